import { NEXT_STEP_LABELS, RETURN_TO_APP_INSTRUCTION } from './messages';
import { CheckoutData } from './store';

/**
 * How the page offers the way back to the merchant's app, for an order the app started. The page
 * shows `label` on WeChat's `open-type="launchApp"` button when the scene allows it,
 * `instruction` where it does not (another scene, or Douyin), and `refusedInstruction` once the
 * platform refused the button (`binderror`).
 */
export interface ReturnToAppView {
  /**
   * `app-parameter`, which reaches the app as `extMsg`: `{"orderNo","status"}` with the status the
   * server last reported (never a client-side verdict), or `{"error": code}` when no order was
   * claimed. The app treats it as a hint and asks its backend.
   */
  appParameter: string;
  label: string;
  instruction: string;
  refusedInstruction: string;
  /** The main way on (paid, or nothing left to do here) rather than an alternative to another button. */
  primary: boolean;
}

type ReturnToAppState = Pick<CheckoutData, 'phase' | 'source' | 'order' | 'error' | 'confirmation'>;

/** The way back for this state, or null where there is none (cart checkouts, work in progress). */
export function returnToAppView({
  phase,
  source,
  order,
  error,
  confirmation,
}: ReturnToAppState): ReturnToAppView | null {
  if (source !== 'app') return null;
  const appParameter = JSON.stringify(
    order ? { orderNo: order.orderNo, status: order.status } : { error: error?.code ?? 'CHECKOUT_NOT_OPENED' },
  );
  switch (phase) {
    case 'paid':
      return {
        appParameter,
        label: '返回APP',
        instruction: '支付已完成，请返回APP查看订单',
        refusedInstruction: '请手动返回APP查看订单',
        primary: true,
      };
    case 'failed':
      if (error?.nextStep === 'returnToApp') {
        return {
          appParameter,
          label: NEXT_STEP_LABELS.returnToApp,
          instruction: RETURN_TO_APP_INSTRUCTION,
          refusedInstruction: '请手动返回APP重新发起支付',
          primary: true,
        };
      }
      return alternative(appParameter, '如不再支付，请返回APP');
    case 'cancelled':
      return alternative(appParameter, '如不再支付，请返回APP');
    case 'confirming':
      return confirmation === 'stillPending' ? alternative(appParameter, '如已完成支付，可返回APP查看订单') : null;
    default:
      return null;
  }
}

function alternative(appParameter: string, instruction: string): ReturnToAppView {
  return { appParameter, label: '返回APP', instruction, refusedInstruction: '请手动返回APP', primary: false };
}
