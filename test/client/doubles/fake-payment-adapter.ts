import type { PayResponse } from '../../../src/api/types';
import type { LoginCode, PaymentContext, PaymentOutcome, PlatformPayAdapter } from '../../../src/platform/contract';

/**
 * A platform adapter implementing the real contract with scripted shopper behaviour:
 * each `presentPayment` takes the next outcome; `onSubmitted` plays the gateway's notify.
 */
export class FakePaymentAdapter implements PlatformPayAdapter {
  readonly platform = 'weapp';
  readonly presented: { payResponse: PayResponse; orderNo: string }[] = [];
  loginCount = 0;

  constructor(
    private readonly outcomes: PaymentOutcome[] = [],
    private readonly onSubmitted: (orderNo: string) => void = () => undefined,
    /** Distinct per shopper when several share one server: login codes are single-use. */
    private readonly loginCodePrefix = 'login-code',
  ) {}

  loginCode = async (): Promise<LoginCode> => {
    this.loginCount += 1;
    return { code: `${this.loginCodePrefix}-${this.loginCount}` };
  };

  presentPayment = async (payResponse: PayResponse, context: PaymentContext): Promise<PaymentOutcome> => {
    this.presented.push({ payResponse, orderNo: context.orderNo });
    const outcome = this.outcomes.shift() ?? { kind: 'submitted' };
    if (outcome.kind === 'submitted') this.onSubmitted(context.orderNo);
    return outcome;
  };
}
