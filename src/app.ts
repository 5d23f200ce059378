import { useDidShow } from '@tarojs/taro';
import { PropsWithChildren } from 'react';
import { launchContext } from './launch/current-launch';

export default function App({ children }: PropsWithChildren) {
  // Each entry's scene decides whether the page may offer WeChat's return-to-app button.
  useDidShow((options) => launchContext.appShown(options));
  return children;
}
