import { launchAppSupported } from '../platform/app-return';
import { createLaunchContext } from './launch-context';
import { taroLaunchOptions } from './taro-launch-options';

/** The app's one launch context: fed by the App's onShow, read by the checkout page. */
export const launchContext = createLaunchContext({ reader: taroLaunchOptions, launchAppSupported });
