import { AppError } from './errors';
import type { PaymentChannel, PaymentProvider, PaymentProviderId } from './payment-provider';

/** Which provider opens new bills of each payment method. */
export type ChannelRoutes = Readonly<Record<PaymentChannel, PaymentProviderId>>;

/**
 * The payment providers this instance is configured with. New bills go where the configuration
 * routes their channel (`forChannel`); everything about an existing bill goes to the provider it
 * was opened at (`get`), so a configuration change never strands an open order or a refund.
 */
export class PaymentProviders {
  private readonly byId = new Map<PaymentProviderId, PaymentProvider>();

  /**
   * `providers`: every provider this instance can talk to (the routed ones, plus any kept only to
   * finish what was opened there). Throws an Error when two share an id, or a channel is routed
   * to a provider that is not given or does not open that channel: a configuration mistake that
   * must stop the start, not a shopper's payment.
   */
  constructor(
    providers: readonly PaymentProvider[],
    private readonly routes: ChannelRoutes,
  ) {
    for (const provider of providers) {
      if (this.byId.has(provider.id)) throw new Error(`payment provider ${provider.id} is configured twice`);
      this.byId.set(provider.id, provider);
    }
    for (const [channel, id] of Object.entries(routes) as Array<[PaymentChannel, PaymentProviderId]>) {
      const provider = this.byId.get(id);
      if (!provider) throw new Error(`${channel} bills are routed to payment provider ${id}, which is not configured`);
      if (!provider.channels.has(channel)) throw new Error(`payment provider ${id} does not open ${channel} bills`);
    }
  }

  /** The provider new bills of this channel are opened at. */
  forChannel(channel: PaymentChannel): PaymentProvider {
    return this.byId.get(this.routes[channel])!;
  }

  /**
   * The provider a bill or refund was opened at. Throws AppError GATEWAY_UNAVAILABLE when this
   * instance is not configured for it: it cannot be asked from here, so what depends on the
   * answer waits (an instance configured for it, or this one once reconfigured, asks).
   */
  get(id: PaymentProviderId): PaymentProvider {
    const provider = this.byId.get(id);
    if (!provider) {
      throw new AppError(
        'GATEWAY_UNAVAILABLE',
        `Payment provider ${id} is not configured on this instance: what was opened there cannot be asked about now`,
        { provider: id },
      );
    }
    return provider;
  }

  /** Every configured provider. */
  all(): PaymentProvider[] {
    return [...this.byId.values()];
  }
}
