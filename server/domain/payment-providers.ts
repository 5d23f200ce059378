import { AppError } from './errors';
import type { PaymentChannel, PaymentProvider, PaymentProviderId } from './payment-provider';

/**
 * Which provider opens new bills of each payment method. `TT_MINI` (Douyin's own checkout) is
 * routed only when the merchant chose one of Douyin's current systems; the legacy cashier pays
 * through the two gateway legs instead.
 */
export type ChannelRoutes = Readonly<
  Record<Exclude<PaymentChannel, 'TT_MINI'>, PaymentProviderId> & Partial<Record<'TT_MINI', PaymentProviderId>>
>;

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
    for (const [channel, id] of Object.entries(routes) as Array<[PaymentChannel, PaymentProviderId | undefined]>) {
      if (id === undefined) continue;
      const provider = this.byId.get(id);
      if (!provider) throw new Error(`${channel} bills are routed to payment provider ${id}, which is not configured`);
      if (!provider.channels.has(channel)) throw new Error(`payment provider ${id} does not open ${channel} bills`);
    }
  }

  /** Whether new bills of this channel are opened anywhere. */
  offers(channel: PaymentChannel): boolean {
    return this.routes[channel] !== undefined;
  }

  /**
   * The provider new bills of this channel are opened at. Throws an Error when the channel is not
   * routed: callers ask only for what the configuration offers (`offers`).
   */
  forChannel(channel: PaymentChannel): PaymentProvider {
    const id: PaymentProviderId | undefined = this.routes[channel];
    if (id === undefined) throw new Error(`no payment provider opens ${channel} bills on this instance`);
    return this.byId.get(id)!;
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
