import http from 'node:http';
import https from 'node:https';

/** What one delivery attempt got: the status (null: no answer) and the start of the body. */
export interface PostResult {
  status: number | null;
  body: string;
}

/** Bytes of an answer kept: enough to see what the receiver said. */
const RESPONSE_LIMIT = 64 * 1024;

/**
 * POSTs one notification (JSON `payload`) to a merchant's URL the way the emulated providers do:
 * a fresh connection each time, `timeoutMs` for the whole exchange. Never rejects: no answer is
 * `{status: null, body: why}`. `abort` (set while the request is out) destroys it, e.g. when the
 * sandbox closes or a newer notification supersedes this one.
 */
export function postNotification(
  url: string,
  payload: string,
  options: { headers?: Record<string, string>; userAgent: string; timeoutMs: number; abortReason: string },
  onAbort: (abort: (() => void) | undefined) => void,
): Promise<PostResult> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ status: null, body: `invalid notify_url: ${url}` });
      return;
    }
    const transport = target.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (result: PostResult) => {
      if (settled) return;
      settled = true;
      onAbort(undefined);
      resolve(result);
    };
    const request = transport.request(
      target,
      {
        method: 'POST',
        agent: false,
        timeout: options.timeoutMs,
        headers: {
          ...options.headers,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(payload),
          'User-Agent': options.userAgent,
          Connection: 'close',
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_LIMIT) chunks.push(chunk);
          size += chunk.length;
        });
        response.on('end', () =>
          finish({ status: response.statusCode ?? null, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', (error) => finish({ status: null, body: error.message }));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (error) => finish({ status: null, body: error.message }));
    onAbort(() => request.destroy(new Error(options.abortReason)));
    request.end(payload);
  });
}
