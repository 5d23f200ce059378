import { AppError } from '../../domain/errors';
import type { PaymentChannel, PaymentProvider } from '../../domain/payment-provider';

/**
 * A provider built on first use: for one that is kept only to finish what was opened there and
 * whose construction costs something (WeChat Pay on the sandbox generates its development keys on
 * first use). `id`, `channels`, `idempotentRefunds`, `clientParamsValidMs` and `payerMadeBills` must be those of
 * what `build` makes; it signs parameters again where what is built does (`reissueClientParams`); it has
 * `closeBill` unless `closes` is false (it must say whether the built one has: the domain asks only
 * a provider that has `closeBill` to close, and one that cannot would hold every expiry with
 * GATEWAY_ERROR).
 *
 * A failed build is tried again at the next call. While it fails, what the contract lets throw
 * throws AppError GATEWAY_UNAVAILABLE; `openBill` is `refused` and `createRefund` `refused`
 * (retryable) with the reason, since nothing was sent.
 */
export function deferredProvider(
  traits: Pick<PaymentProvider, 'id' | 'channels' | 'idempotentRefunds' | 'clientParamsValidMs' | 'payerMadeBills'>,
  build: () => Promise<PaymentProvider>,
  closes = true,
): PaymentProvider {
  const { id, channels, idempotentRefunds, clientParamsValidMs, payerMadeBills } = traits;
  let built: Promise<PaymentProvider> | undefined;
  const provider = async (): Promise<PaymentProvider> => {
    built ??= build();
    try {
      return await built;
    } catch (error) {
      built = undefined;
      throw new AppError(
        'GATEWAY_UNAVAILABLE',
        `Payment provider ${id} cannot be set up: ${error instanceof Error ? error.message : String(error)}`,
        { provider: id },
      );
    }
  };
  return {
    id,
    channels,
    idempotentRefunds,
    clientParamsValidMs,
    payerMadeBills,
    async reissueClientParams(params, expiresAt) {
      let ready: PaymentProvider;
      try {
        ready = await provider();
      } catch {
        return params;
      }
      return ready.reissueClientParams ? ready.reissueClientParams(params, expiresAt) : params;
    },
    async openBill(request) {
      let ready: PaymentProvider;
      try {
        ready = await provider();
      } catch (error) {
        return { outcome: 'refused', error: error as AppError };
      }
      return ready.openBill(request);
    },
    queryBill: async (billNo, channel) => (await provider()).queryBill(billNo, channel),
    ...(closes && {
      async closeBill(billNo: string, channel: PaymentChannel) {
        const ready = await provider();
        if (!ready.closeBill) {
          throw new AppError('GATEWAY_ERROR', `Payment provider ${id} cannot close a bill`, { provider: id });
        }
        return ready.closeBill(billNo, channel);
      },
    }),
    async createRefund(request) {
      let ready: PaymentProvider;
      try {
        ready = await provider();
      } catch (error) {
        const unavailable = error as AppError;
        return { outcome: 'refused', reason: unavailable.message, retryable: true, error: unavailable };
      }
      return ready.createRefund(request);
    },
    queryRefund: async (refundNo, channel) => (await provider()).queryRefund(refundNo, channel),
    readNotification: async (message) => (await provider()).readNotification(message),
    listTransactions: async (day) => (await provider()).listTransactions(day),
  };
}
