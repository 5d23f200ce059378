import { createApiClient } from '../api/client';
import { taroTransport } from '../api/taro-transport';
import * as platformPayment from '../platform/pay';
import { createSessionManager } from '../session/session';
import { taroStorage } from '../session/taro-storage';
import { createClaimedCheckouts } from './claimed-checkouts';
import { createCheckoutFlow } from './flow';
import { createCheckoutStore } from './store';

/** The app's one checkout: real transport, storage and the platform file Taro picked for this build. */
const api = createApiClient({ baseUrl: CHECKOUT_API_BASE_URL, transport: taroTransport });

const session = createSessionManager({
  api,
  platform: platformPayment.platform,
  loginCode: platformPayment.loginCode,
  storage: taroStorage,
});

export const checkoutStore = createCheckoutStore();

export const checkoutFlow = createCheckoutFlow({
  store: checkoutStore,
  api,
  session,
  payment: platformPayment,
  claimedCheckouts: createClaimedCheckouts({ storage: taroStorage }),
});
