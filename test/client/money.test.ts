import { formatFen } from '../../src/money';

describe('formatFen(fen)', () => {
  it.each([
    [0, '0.00'],
    [1, '0.01'],
    [10, '0.10'],
    [99, '0.99'],
    [100, '1.00'],
    [1999, '19.99'],
    [123456789, '1234567.89'],
    [-250, '-2.50'],
  ])('should format %i fen as %s', (fen, expected) => {
    expect(formatFen(fen)).toBe(expected);
  });

  it('should refuse amounts that are not whole fen', () => {
    expect(() => formatFen(1.5)).toThrow(RangeError);
    expect(() => formatFen(Number.NaN)).toThrow(RangeError);
  });
});
