import Taro from '@tarojs/taro';
import { LaunchOptionsReader, sceneOf } from './launch-context';

/**
 * LaunchOptionsReader over Taro. `getEnterOptionsSync` needs WeChat base library 2.9.4 and may be
 * missing on other platforms; a missing or throwing API reads as "unknown", never as an error.
 */
export const taroLaunchOptions: LaunchOptionsReader = {
  launchScene: () => readScene(() => Taro.getLaunchOptionsSync),
  enterScene: () => readScene(() => Taro.getEnterOptionsSync),
};

function readScene(api: () => (() => unknown) | undefined): number | undefined {
  try {
    const read = api();
    return typeof read === 'function' ? sceneOf(read()) : undefined;
  } catch {
    return undefined;
  }
}
