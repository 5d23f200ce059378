import { Button, Text, View } from '@tarojs/components';
import { useDidShow, useRouter } from '@tarojs/taro';
import { useEffect, useState } from 'react';
import { Order } from '../../api/types';
import { formatFen } from '../../money';
import { NEXT_STEP_LABELS } from '../../checkout/messages';
import { returnToAppView, ReturnToAppView } from '../../checkout/return-to-app';
import { checkoutFlow, checkoutStore } from '../../checkout/service';
import { CartLine, cartTotalFen, CheckoutState, MAX_QUANTITY_PER_LINE } from '../../checkout/store';
import { useCheckoutState } from '../../checkout/use-checkout-state';
import { launchContext } from '../../launch/current-launch';
import { ReturnToAppAvailability } from '../../launch/launch-context';
import { checkoutTokenFromQuery } from '../../launch/launch-query';
import './index.css';

const PROGRESS_TEXT: Record<
  Extract<CheckoutState['phase'], 'claiming' | 'loggingIn' | 'creating' | 'paying'>,
  string
> = {
  claiming: '正在打开订单…',
  loggingIn: '正在登录…',
  creating: '正在创建订单…',
  paying: '正在拉起支付…',
};

export default function CheckoutPage() {
  const state = useCheckoutState(checkoutStore);
  // `?checkout=<token>`: a merchant's app opened the page for its own order (WXLaunchMiniProgramReq).
  const checkoutToken = checkoutTokenFromQuery(useRouter().params);

  useEffect(() => {
    void (checkoutToken === undefined ? checkoutFlow.openCart() : checkoutFlow.openFromApp(checkoutToken));
  }, [checkoutToken]);

  // Douyin's cashier can close without any callback; coming back to the page is then the only sign.
  useDidShow(() => checkoutFlow.pageShown());

  // Until the flow takes the launch token, show the app's order loading rather than the cart.
  const showsAppOrder = state.source === 'app' || (checkoutToken !== undefined && state.phase === 'idle');
  return (
    <View className='checkout'>
      {showsAppOrder ? <AppOrderSummary order={state.order} /> : <CartSummary state={state} />}
      {showsAppOrder && state.phase === 'idle' ? (
        <Progress text={PROGRESS_TEXT.claiming} phase='claiming' />
      ) : (
        <CheckoutAction state={state} />
      )}
    </View>
  );
}

/** The order the merchant's app started, as the server priced it: no editing here. */
function AppOrderSummary({ order }: { order: Order | null }) {
  if (!order) return null;
  return (
    <View id='app-order' className='cart'>
      {order.items.map((line) => (
        <View key={line.sku} className='cart-line'>
          <Text className='cart-line-title'>{line.title ?? line.sku}</Text>
          <Text className='order-line-quantity'>{`×${line.quantity}`}</Text>
          {line.amount !== undefined && <Text className='cart-line-amount'>{`¥${formatFen(line.amount)}`}</Text>}
        </View>
      ))}
      <View id='order-total' className='cart-total'>
        {`合计 ¥${formatFen(order.amount)}`}
      </View>
    </View>
  );
}

function Progress({ text, phase }: { text: string; phase: string }) {
  return (
    <View id='checkout-progress' className={`result result-${phase}`}>
      {text}
    </View>
  );
}

function CartSummary({ state }: { state: CheckoutState }) {
  const { catalogStatus, catalogError, cartLines, phase } = state;
  if (catalogStatus === 'loading') {
    return <View className='cart-placeholder'>正在加载商品…</View>;
  }
  if (catalogStatus === 'failed') {
    return (
      <View className='cart-placeholder'>
        <View id='catalog-error' className='error-message'>
          {catalogError?.message ?? '商品加载失败'}
        </View>
        <Button id='reload-catalog-button' className='secondary-button' onClick={() => void checkoutFlow.loadCatalog()}>
          重新加载
        </Button>
      </View>
    );
  }
  const editable = phase === 'idle';
  return (
    <View id='cart' className='cart'>
      {cartLines.map((line) => (
        <CartLineRow key={line.sku} line={line} editable={editable} />
      ))}
      <View id='cart-total' className='cart-total'>
        {`合计 ¥${formatFen(cartTotalFen(cartLines))}`}
      </View>
    </View>
  );
}

function CartLineRow({ line, editable }: { line: CartLine; editable: boolean }) {
  const changeQuantity = (quantity: number) => checkoutStore.getState().quantityChanged(line.sku, quantity);
  return (
    <View className='cart-line'>
      <Text className='cart-line-title'>{line.title}</Text>
      <View className='stepper'>
        <Button
          id={`decrease-${line.sku}`}
          className='stepper-button'
          size='mini'
          disabled={!editable || line.quantity <= 0}
          onClick={() => changeQuantity(line.quantity - 1)}
        >
          -
        </Button>
        <Text id={`quantity-${line.sku}`} className='stepper-quantity'>
          {String(line.quantity)}
        </Text>
        <Button
          id={`increase-${line.sku}`}
          className='stepper-button'
          size='mini'
          disabled={!editable || line.quantity >= MAX_QUANTITY_PER_LINE}
          onClick={() => changeQuantity(line.quantity + 1)}
        >
          +
        </Button>
      </View>
      <Text className='cart-line-amount'>{`¥${formatFen(line.price * line.quantity)}`}</Text>
    </View>
  );
}

function CheckoutAction({ state }: { state: CheckoutState }) {
  const { phase, source, catalogStatus, cartLines, order, confirmation, error } = state;
  const totalFen = cartTotalFen(cartLines);
  const returnView = returnToAppView(state);
  const returnToApp = returnView && <ReturnToApp view={returnView} />;

  switch (phase) {
    case 'idle':
      if (source !== 'cart' || catalogStatus !== 'ready') return null;
      return (
        <Button
          id='pay-button'
          className='primary-button'
          type='primary'
          disabled={totalFen <= 0}
          onClick={() => void checkoutFlow.checkout()}
        >
          {`支付 ¥${formatFen(totalFen)}`}
        </Button>
      );
    case 'ready':
      return order ? (
        <Button
          id='pay-button'
          className='primary-button'
          type='primary'
          onClick={() => void checkoutFlow.payClaimedOrder()}
        >
          {`支付 ¥${formatFen(order.amount)}`}
        </Button>
      ) : null;
    case 'claiming':
    case 'loggingIn':
    case 'creating':
    case 'paying':
      return <Progress text={PROGRESS_TEXT[phase]} phase={phase} />;
    case 'confirming':
      return confirmation === 'stillPending' ? (
        <View id='checkout-result' className='result result-pending'>
          <View className='result-title'>支付结果确认中</View>
          <View className='result-hint'>如已完成支付，请稍后刷新查看结果</View>
          <Button
            id='refresh-result-button'
            className='secondary-button'
            onClick={() => void checkoutFlow.refreshResult()}
          >
            刷新结果
          </Button>
          {returnToApp}
        </View>
      ) : (
        <View id='checkout-result' className='result result-confirming'>
          正在确认支付结果…
        </View>
      );
    case 'paid':
      return (
        <View id='checkout-result' className='result result-paid'>
          <View className='result-title'>支付成功</View>
          {order && <View id='order-no' className='result-hint'>{`订单号 ${order.orderNo}`}</View>}
          {order && <View className='result-hint'>{`实付 ¥${formatFen(order.amount)}`}</View>}
          {returnToApp}
        </View>
      );
    case 'cancelled':
      return (
        <View id='checkout-result' className='result result-cancelled'>
          <View className='result-title'>已取消</View>
          <Button
            id='retry-payment-button'
            className='primary-button'
            type='primary'
            onClick={() => void checkoutFlow.retryPayment()}
          >
            重新支付
          </Button>
          {returnToApp}
        </View>
      );
    case 'failed':
      return (
        <View id='checkout-result' className='result result-failed'>
          <View id='error-message' className='error-message'>
            {error?.message ?? '支付遇到问题，请稍后重试'}
          </View>
          {error && error.nextStep !== 'returnToApp' && (
            <Button
              id='next-step-button'
              className='primary-button'
              type='primary'
              onClick={() => void checkoutFlow.runNextStep(error.nextStep)}
            >
              {NEXT_STEP_LABELS[error.nextStep]}
            </Button>
          )}
          {returnToApp}
        </View>
      );
  }
}

/**
 * The way back to the merchant's app: WeChat's `open-type="launchApp"` button where the platform and
 * the launch scene allow it, otherwise (or once WeChat refused it) a plain instruction.
 */
function ReturnToApp({ view }: { view: ReturnToAppView }) {
  const availability = useReturnToAppAvailability();
  if (availability !== 'available') {
    return (
      <View id='return-app-hint' className='result-hint'>
        {availability === 'refused' ? view.refusedInstruction : view.instruction}
      </View>
    );
  }
  return (
    <Button
      id='return-app-button'
      className={view.primary ? 'primary-button' : 'secondary-button'}
      type={view.primary ? 'primary' : 'default'}
      openType='launchApp'
      appParameter={view.appParameter}
      onError={() => launchContext.returnRefused()}
    >
      {view.label}
    </Button>
  );
}

/** Re-read on every entry (the scene changes) and whenever the launch context changes. */
function useReturnToAppAvailability(): ReturnToAppAvailability {
  const [availability, setAvailability] = useState(launchContext.returnToAppAvailability);
  useEffect(() => {
    const refresh = () => setAvailability(launchContext.returnToAppAvailability());
    refresh();
    return launchContext.subscribe(refresh);
  }, []);
  useDidShow(() => setAvailability(launchContext.returnToAppAvailability()));
  return availability;
}
