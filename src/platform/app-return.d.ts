/**
 * Type of `./app-return`, which Taro resolves at build time to `app-return.weapp.ts` or
 * `app-return.tt.ts`; `conformance.ts` checks each file against `AppReturnCapability`.
 */
import type { AppReturnCapability } from './contract';

export declare const launchAppSupported: AppReturnCapability['launchAppSupported'];
