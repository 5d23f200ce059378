/**
 * What `promise` rejected with, for tests that inspect an error's class, code or details; throws
 * when it fulfils instead, so a call that should have failed cannot pass unnoticed.
 */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}
