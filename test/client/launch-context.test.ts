import { createLaunchContext, LaunchOptionsReader, sceneOf } from '../../src/launch/launch-context';

function readerOf(launchScene: number | undefined, enterScene?: number) {
  const reader: LaunchOptionsReader & { enter: number | undefined } = {
    enter: enterScene,
    launchScene: () => launchScene,
    enterScene: () => reader.enter,
  };
  return reader;
}

describe('createLaunchContext', () => {
  it('should offer the return button when the app launched the mini-program', () => {
    const context = createLaunchContext({ reader: readerOf(1069, 1069), launchAppSupported: true });
    expect(context.returnToAppAvailability()).toBe('available');
  });

  it('should not offer it when the platform has no launchApp (Douyin)', () => {
    const context = createLaunchContext({ reader: readerOf(1069, 1069), launchAppSupported: false });
    expect(context.returnToAppAvailability()).toBe('unavailable');
  });

  it('should not offer it when the mini-program was opened from the WeChat app list (1001) without an app', () => {
    const context = createLaunchContext({ reader: readerOf(1001, 1001), launchAppSupported: true });
    expect(context.returnToAppAvailability()).toBe('unavailable');
  });

  it('should follow later entries: kept through the recent list, lost through a chat card', () => {
    const reader = readerOf(1069, 1069);
    const context = createLaunchContext({ reader, launchAppSupported: true });
    reader.enter = 1089;
    expect(context.returnToAppAvailability()).toBe('available');
    reader.enter = 1007;
    expect(context.returnToAppAvailability()).toBe('unavailable');
  });

  it("should use the App's onShow scenes where getEnterOptionsSync is missing (old base libraries)", () => {
    const context = createLaunchContext({ reader: readerOf(1069, undefined), launchAppSupported: true });
    context.appShown({ scene: 1069, path: 'pages/checkout/index', query: {} });
    expect(context.returnToAppAvailability()).toBe('available');
    context.appShown({ scene: 1007 });
    expect(context.returnToAppAvailability()).toBe('unavailable');
    context.appShown({ scene: 1089 });
    expect(context.returnToAppAvailability()).toBe('unavailable');
    context.appShown({ scene: 1069 });
    expect(context.returnToAppAvailability()).toBe('available');
    expect(context.scenes()).toEqual([1069, 1069, 1007, 1089, 1069]);
  });

  it('should not let a hot re-entry from the app be undone by a stale launch scene', () => {
    const context = createLaunchContext({ reader: readerOf(1001, undefined), launchAppSupported: true });
    context.appShown({ scene: 1001 });
    expect(context.returnToAppAvailability()).toBe('unavailable');
    context.appShown({ scene: 1069 });
    expect(context.returnToAppAvailability()).toBe('available');
  });

  it('should report a refused button until the mini-program is entered again', () => {
    const context = createLaunchContext({ reader: readerOf(1069, undefined), launchAppSupported: true });
    context.appShown({ scene: 1069 });
    context.returnRefused();
    expect(context.returnToAppAvailability()).toBe('refused');
    context.appShown({ scene: 1069 });
    expect(context.returnToAppAvailability()).toBe('available');
  });

  it('should tell subscribers when availability may have changed, until they unsubscribe', () => {
    const context = createLaunchContext({ reader: readerOf(1069), launchAppSupported: true });
    const calls: string[] = [];
    const unsubscribe = context.subscribe(() => calls.push(context.returnToAppAvailability()));
    context.appShown({ scene: 1007 });
    context.returnRefused();
    unsubscribe();
    context.appShown({ scene: 1069 });
    expect(calls).toEqual(['unavailable', 'refused']);
  });

  it('should ignore show options without a scene', () => {
    const context = createLaunchContext({ reader: readerOf(1069), launchAppSupported: true });
    context.appShown(undefined);
    context.appShown({ path: 'pages/checkout/index' });
    expect(context.scenes()).toEqual([1069]);
  });
});

describe('sceneOf', () => {
  it.each([
    [{ scene: 1069 }, 1069],
    [{ scene: '1069' }, 1069],
    [{ scene: '011004' }, 11004],
    [{ scene: 'app' }, undefined],
    [{ scene: 10.5 }, undefined],
    [{}, undefined],
    [null, undefined],
  ])('should read %j as %s', (options, scene) => {
    expect(sceneOf(options)).toBe(scene);
  });
});
