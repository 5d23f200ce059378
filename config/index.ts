import { defineConfig } from '@tarojs/cli';

export default defineConfig<'webpack5'>(() => ({
  projectName: 'miniprogram-checkout',
  date: '2026-11-22',
  designWidth: 750,
  deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
  sourceRoot: 'src',
  // CHECKOUT_DIST_DIR builds elsewhere (the end-to-end tests build per server address).
  outputRoot: process.env.CHECKOUT_DIST_DIR ?? `dist/${process.env.TARO_ENV}`,
  framework: 'react',
  compiler: 'webpack5',
  defineConstants: {
    CHECKOUT_API_BASE_URL: JSON.stringify(process.env.CHECKOUT_API_BASE_URL ?? 'http://127.0.0.1:3000'),
  },
  mini: {
    postcss: {
      pxtransform: { enable: true, config: {} },
      cssModules: { enable: false },
    },
  },
}));
