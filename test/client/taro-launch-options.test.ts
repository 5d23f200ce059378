import { taroLaunchOptions } from '../../src/launch/taro-launch-options';
import { resetTaroDouble, taroDouble } from './doubles/taro';

afterEach(resetTaroDouble);

describe('taroLaunchOptions', () => {
  it("should read the scenes of Taro's launch and enter options", () => {
    taroDouble.getLaunchOptionsSync = () => ({ scene: 1069, path: 'pages/checkout/index', query: { checkout: 't' } });
    taroDouble.getEnterOptionsSync = () => ({ scene: 1089, path: 'pages/checkout/index', query: {} });
    expect(taroLaunchOptions.launchScene()).toBe(1069);
    expect(taroLaunchOptions.enterScene()).toBe(1089);
  });

  it('should read a missing API (base library before 2.9.4, other platforms) as unknown', () => {
    taroDouble.getEnterOptionsSync = undefined;
    expect(taroLaunchOptions.enterScene()).toBeUndefined();
  });

  it('should read an API that throws as unknown, never fail', () => {
    taroDouble.getLaunchOptionsSync = () => {
      throw new Error('getLaunchOptionsSync:fail');
    };
    expect(taroLaunchOptions.launchScene()).toBeUndefined();
  });
});
