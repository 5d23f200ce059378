/**
 * Compile-time proof that every platform file exports the contract `pay.d.ts` promises.
 * It lives in a `.ts` file because `skipLibCheck` would silence errors inside a `.d.ts`.
 * Type-only: nothing here reaches the bundle.
 */
import type { PlatformPayAdapter } from './contract';
import type * as ttPay from './pay.tt';
import type * as weappPay from './pay.weapp';

type Conforms<PlatformModule extends PlatformPayAdapter> = PlatformModule;

export type ConformingPlatformModules = [Conforms<typeof weappPay>, Conforms<typeof ttPay>];
