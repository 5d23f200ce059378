/**
 * When WeChat lets `<button open-type="launchApp">` return to the native app that opened the
 * mini-program (https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/launchApp.html):
 *
 * - entering from an app (scene 1069) gives the ability;
 * - entering through 1038 (back from another mini-program), 1089 (chat's "recent" pull-down),
 *   1090 (recent history from the capsule menu), and on newer base libraries 1001 (Discover's
 *   mini-program list), 1131 and 1187 (floating windows) keeps it as it was;
 * - entering any other way takes it away (the button then fails with `invalid scene`).
 *
 * The framework keeps that flag itself and does not expose it, so the client replays the rule over
 * the scenes it saw in this session, and starts from "no ability": a cold start through a keeping
 * scene (1089 after WeChat discarded the mini-program) may or may not still have it, and a button
 * that fails is worse than a plain instruction. 1001/1131/1187 are taken as keeping on every base
 * library; where an old one refuses, the button's `binderror` turns into the plain instruction.
 */
export const SCENE_FROM_APP = 1069;

/** Scenes after which the ability to return to the app stays as it was. */
export const SCENES_KEEPING_APP_CONTEXT: readonly number[] = [1038, 1089, 1090, 1001, 1131, 1187];

/** Whether the ability to return to the app survives these entry scenes, oldest first. */
export function appContextAfter(scenes: readonly number[]): boolean {
  return scenes.reduce<boolean>(
    (kept, scene) => (scene === SCENE_FROM_APP ? true : SCENES_KEEPING_APP_CONTEXT.includes(scene) && kept),
    false,
  );
}
