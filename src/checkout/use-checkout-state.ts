import { useStore } from 'zustand';
import { CheckoutState, CheckoutStore } from './store';

/** React binding over the vanilla checkout store. */
export function useCheckoutState(store: CheckoutStore): CheckoutState {
  return useStore(store);
}
