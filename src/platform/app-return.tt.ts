/**
 * Douyin documents no equivalent of WeChat's `open-type="launchApp"` (unconfirmed: none found), so
 * the shopper gets the result and a plain instruction to go back to the app.
 */
export const launchAppSupported = false;
