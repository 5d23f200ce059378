import { Button, Text, View } from '@tarojs/components';
import { useDidShow } from '@tarojs/taro';
import { useEffect } from 'react';
import { formatFen } from '../../money';
import { NEXT_STEP_LABELS } from '../../checkout/messages';
import { checkoutFlow, checkoutStore } from '../../checkout/service';
import { CartLine, cartTotalFen, CheckoutState, MAX_QUANTITY_PER_LINE } from '../../checkout/store';
import { useCheckoutState } from '../../checkout/use-checkout-state';
import './index.css';

const PROGRESS_TEXT: Partial<Record<CheckoutState['phase'], string>> = {
  loggingIn: '正在登录…',
  creating: '正在创建订单…',
  paying: '正在拉起支付…',
};

export default function CheckoutPage() {
  const state = useCheckoutState(checkoutStore);

  useEffect(() => {
    if (checkoutStore.getState().catalogStatus !== 'ready') void checkoutFlow.loadCatalog();
  }, []);

  // Douyin's cashier can close without any callback; coming back to the page is then the only sign.
  useDidShow(() => checkoutFlow.pageShown());

  return (
    <View className='checkout'>
      <CartSummary state={state} />
      <CheckoutAction state={state} />
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
  const { phase, catalogStatus, cartLines, order, confirmation, error } = state;
  const totalFen = cartTotalFen(cartLines);

  switch (phase) {
    case 'idle':
      if (catalogStatus !== 'ready') return null;
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
    case 'loggingIn':
    case 'creating':
    case 'paying':
      return (
        <View id='checkout-progress' className={`result result-${phase}`}>
          {PROGRESS_TEXT[phase]}
        </View>
      );
    case 'confirming':
      return confirmation === 'stillPending' ? (
        <View id='checkout-result' className='result result-pending'>
          <View className='result-title'>支付结果确认中</View>
          <View className='result-hint'>如已完成支付，请稍后刷新查看结果</View>
          <Button id='refresh-result-button' className='secondary-button' onClick={() => void checkoutFlow.refreshResult()}>
            刷新结果
          </Button>
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
        </View>
      );
    case 'cancelled':
      return (
        <View id='checkout-result' className='result result-cancelled'>
          <View className='result-title'>已取消</View>
          <Button id='retry-payment-button' className='primary-button' type='primary' onClick={() => void checkoutFlow.retryPayment()}>
            重新支付
          </Button>
        </View>
      );
    case 'failed':
      return (
        <View id='checkout-result' className='result result-failed'>
          <View id='error-message' className='error-message'>
            {error?.message ?? '支付遇到问题，请稍后重试'}
          </View>
          {error && (
            <Button
              id='next-step-button'
              className='primary-button'
              type='primary'
              onClick={() => void checkoutFlow.runNextStep(error.nextStep)}
            >
              {NEXT_STEP_LABELS[error.nextStep]}
            </Button>
          )}
        </View>
      );
  }
}
