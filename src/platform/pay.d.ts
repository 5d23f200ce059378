/**
 * Type of `./pay`, which Taro resolves at build time to `pay.weapp.ts` or `pay.tt.ts`
 * (https://docs.taro.zone/docs/envs "统一接口的多端文件"). Each platform file is checked
 * against the same contract in `conformance.ts`.
 */
import type { PlatformPayAdapter } from './contract';

export declare const platform: PlatformPayAdapter['platform'];
export declare const loginCode: PlatformPayAdapter['loginCode'];
export declare const presentPayment: PlatformPayAdapter['presentPayment'];
