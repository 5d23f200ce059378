import { checkoutTokenFromQuery } from '../../src/launch/launch-query';

describe('checkoutTokenFromQuery', () => {
  it('should read the launch token of pages/checkout/index?checkout=<token>', () => {
    expect(checkoutTokenFromQuery({ checkout: 'AbC-123_xyz0123456789' })).toBe('AbC-123_xyz0123456789');
  });

  it('should say "not an app launch" when the query has no checkout', () => {
    expect(checkoutTokenFromQuery({})).toBeUndefined();
    expect(checkoutTokenFromQuery(undefined)).toBeUndefined();
    expect(checkoutTokenFromQuery({ $taroTimestamp: '1700000000000' })).toBeUndefined();
  });

  it('should decode a percent-encoded value and trim it', () => {
    expect(checkoutTokenFromQuery({ checkout: '%20abc%2Ddef%20' })).toBe('abc-def');
  });

  it('should keep a value that is not valid percent-encoding as it came', () => {
    expect(checkoutTokenFromQuery({ checkout: 'abc%zz' })).toBe('abc%zz');
  });

  it('should report an empty token as an app launch (with an invalid link) rather than the cart', () => {
    expect(checkoutTokenFromQuery({ checkout: '' })).toBe('');
  });
});
