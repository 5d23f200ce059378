import { defineConfig } from '@tarojs/cli';

/** The smallest Taro 4 React app, built with the project's own versions: the bundle-weight baseline. */
export default defineConfig<'webpack5'>(() => ({
  projectName: 'hello-world',
  designWidth: 750,
  deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
  sourceRoot: 'src',
  outputRoot: process.env.CHECKOUT_DIST_DIR ?? `dist/${process.env.TARO_ENV}`,
  framework: 'react',
  compiler: 'webpack5',
}));
