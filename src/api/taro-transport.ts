import Taro from '@tarojs/taro';
import { HttpTransport } from './client';

const REQUEST_TIMEOUT_MS = 15_000;

/** HttpTransport over `Taro.request`, which resolves for every HTTP status and rejects with `{errMsg}`. */
export const taroTransport: HttpTransport = async ({ url, method, header, data }) => {
  const response = await Taro.request<unknown>({
    url,
    method,
    header,
    data: data === undefined ? undefined : JSON.stringify(data),
    timeout: REQUEST_TIMEOUT_MS,
  });
  return { statusCode: response.statusCode, data: response.data };
};
