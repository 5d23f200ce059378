/// <reference types="@tarojs/taro" />

declare const CHECKOUT_API_BASE_URL: string;

declare namespace NodeJS {
  interface ProcessEnv {
    TARO_ENV: 'weapp' | 'tt' | 'h5';
  }
}
