/** The page query key that carries the app's one-time launch token: `pages/checkout/index?checkout=<token>`. */
export const CHECKOUT_QUERY_KEY = 'checkout';

/**
 * The launch token from the page's query, or undefined when the page was not opened by an app.
 * The server's tokens are base64url; WeChat may hand query values over still percent-encoded.
 */
export function checkoutTokenFromQuery(query: Record<string, unknown> | undefined): string | undefined {
  const value = query?.[CHECKOUT_QUERY_KEY];
  if (typeof value !== 'string') return undefined;
  let decoded = value;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    // Not percent-encoding after all: keep the value as it came.
  }
  return decoded.trim();
}
