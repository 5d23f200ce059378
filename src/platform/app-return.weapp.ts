/**
 * WeChat returns to the native app that opened the mini-program through
 * `<button open-type="launchApp" app-parameter="…" binderror="…">`, tapped by the shopper, in the
 * scenes `launch/scene-policy.ts` describes. The app receives `app-parameter` as `extMsg`.
 */
export const launchAppSupported = true;
