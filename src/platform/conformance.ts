/**
 * Compile-time proof that every platform file exports the contract `pay.d.ts` (and `app-return.d.ts`) promises.
 * It lives in a `.ts` file because `skipLibCheck` would silence errors inside a `.d.ts`.
 * Type-only: nothing here reaches the bundle.
 */
import type * as ttAppReturn from './app-return.tt';
import type * as weappAppReturn from './app-return.weapp';
import type { AppReturnCapability, PlatformPayAdapter } from './contract';
import type * as ttPay from './pay.tt';
import type * as weappPay from './pay.weapp';

type Conforms<PlatformModule extends PlatformPayAdapter> = PlatformModule;
type ConformsToAppReturn<PlatformModule extends AppReturnCapability> = PlatformModule;

export type ConformingPlatformModules = [Conforms<typeof weappPay>, Conforms<typeof ttPay>];
export type ConformingAppReturnModules = [
  ConformsToAppReturn<typeof weappAppReturn>,
  ConformsToAppReturn<typeof ttAppReturn>,
];
