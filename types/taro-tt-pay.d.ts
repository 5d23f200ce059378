/**
 * `Taro.pay` is Douyin's `tt.pay`. The tt platform plugin copies it onto Taro (promisified: the
 * Promise settles with `success` / `fail`, which are still called) in tt builds only, and
 * Taro 4.2.0 ships no declaration for it. Fields follow Douyin's tt.pay guide.
 */
import '@tarojs/taro';

declare module '@tarojs/taro' {
  namespace pay {
    interface OrderStatusQuery {
      out_order_no: string;
    }

    /** What `getOrderStatus` resolves with: 0 paid, 1 timed out, 2 failed, 3 closed, 9 unknown. */
    interface OrderStatusAnswer {
      code: number;
    }

    interface SuccessCallbackResult extends Partial<TaroGeneral.CallbackResult> {
      /** 0 paid, 1 timed out, 2 failed, 3 closed, 4 cancelled, 9 unknown. Only 0 means paid. */
      code: number;
    }

    interface Option {
      /** The server-signed order, passed unchanged: Douyin verifies `sign` over its fields. */
      orderInfo: Readonly<Record<string, string | number>>;
      /** 1 = Douyin's cashier (WeChat H5 and Alipay), 3 = WeChat only, 4 = Alipay only. */
      service: number;
      /** Asked by the cashier after the WeChat H5 leg; must resolve, never reject. */
      getOrderStatus?: (query: OrderStatusQuery) => Promise<OrderStatusAnswer>;
      /** Called whenever the cashier opened. */
      success?: (result: SuccessCallbackResult) => void;
      /** The cashier could not open. */
      fail?: (result: TaroGeneral.CallbackResult) => void;
      complete?: (result: unknown) => void;
    }
  }

  interface TaroStatic {
    /**
     * Opens Douyin's cashier.
     * @supported tt
     */
    pay(option: pay.Option): Promise<pay.SuccessCallbackResult>;
  }
}
