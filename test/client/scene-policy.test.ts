import { appContextAfter, SCENE_FROM_APP, SCENES_KEEPING_APP_CONTEXT } from '../../src/launch/scene-policy';

describe('appContextAfter (may WeChat return to the app that opened the mini-program?)', () => {
  it('should allow it after an entry from an app (scene 1069)', () => {
    expect(SCENE_FROM_APP).toBe(1069);
    expect(appContextAfter([1069])).toBe(true);
  });

  it('should not allow it without any scene, or after entries that never came from an app', () => {
    expect(appContextAfter([])).toBe(false);
    expect(appContextAfter([1001])).toBe(false);
    expect(appContextAfter([1007, 1089])).toBe(false);
  });

  it.each([1038, 1089, 1090, 1001, 1131, 1187])('should keep it through scene %i after an app launch', (scene) => {
    expect(SCENES_KEEPING_APP_CONTEXT).toContain(scene);
    expect(appContextAfter([1069, scene])).toBe(true);
    expect(appContextAfter([1069, 1089, scene])).toBe(true);
  });

  it.each([1038, 1089, 1090, 1001, 1131, 1187])(
    'should not grant it through scene %i at a cold start (the framework flag before this session is unknown)',
    (scene) => {
      expect(appContextAfter([scene])).toBe(false);
    },
  );

  it.each([1007, 1011, 1036, 1037, 1047])(
    'should lose it after an entry through scene %i, until the app opens it again',
    (scene) => {
      expect(appContextAfter([1069, scene])).toBe(false);
      expect(appContextAfter([1069, scene, 1089])).toBe(false);
      expect(appContextAfter([1069, scene, 1069])).toBe(true);
    },
  );
});
