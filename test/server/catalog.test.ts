import { Catalog, catalogSchema, DEMO_CATALOG, truncateUtf8 } from '../../server/domain/catalog';
import { formatYuan } from '../../server/domain/money';

describe('Catalog.price', () => {
  const catalog = new Catalog([
    { sku: 'a', title: '云南小粒咖啡豆（中度烘焙）250克装', price: 6800 },
    { sku: 'b', title: 'Mug', price: 4500 },
  ]);

  it('should price lines from the catalogue and merge repeated skus', () => {
    const priced = catalog.price([
      { sku: 'a', quantity: 1 },
      { sku: 'b', quantity: 2 },
      { sku: 'a', quantity: 2 },
    ]);
    expect(priced.amount).toBe(6800 * 3 + 4500 * 2);
    expect(priced.lines.map((line) => [line.sku, line.quantity, line.amount])).toEqual([
      ['a', 3, 20400],
      ['b', 2, 9000],
    ]);
  });

  it('should keep the gateway title within 32 bytes of UTF-8 without splitting a character', () => {
    const { title } = catalog.price([
      { sku: 'a', quantity: 1 },
      { sku: 'b', quantity: 1 },
    ]);
    expect(Buffer.byteLength(title)).toBeLessThanOrEqual(32);
    expect(title.endsWith('等2件')).toBe(true);
    expect(title).not.toContain('\uFFFD');
  });

  it('should refuse an unknown sku with UNKNOWN_SKU', () => {
    expect(() => catalog.price([{ sku: 'zzz', quantity: 1 }])).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_SKU' }),
    );
  });

  it('should refuse a total beyond the order limit', () => {
    expect(() => catalog.price([{ sku: 'a', quantity: 999_999 }])).toThrow(/exceeds the limit/);
  });
});

describe('catalogSchema', () => {
  it('should accept the demo catalogue', () => {
    expect(catalogSchema.safeParse({ items: DEMO_CATALOG }).success).toBe(true);
  });

  it.each([
    [{ items: [] }],
    [{ items: [{ sku: 'a', title: 'x', price: 1.5 }] }],
    [{ items: [{ sku: 'a', title: 'x', price: 0 }] }],
    [{ items: [{ sku: 'a b', title: 'x', price: 1 }] }],
    [
      {
        items: [
          { sku: 'a', title: 'x', price: 1 },
          { sku: 'a', title: 'y', price: 2 },
        ],
      },
    ],
  ])('should reject %j', (catalog) => {
    expect(catalogSchema.safeParse(catalog).success).toBe(false);
  });
});

describe('truncateUtf8 and formatYuan', () => {
  it('should cut at a character boundary', () => {
    expect(truncateUtf8('咖啡豆', 7)).toBe('咖啡');
    expect(truncateUtf8('abc', 10)).toBe('abc');
  });

  it('should format fen as yuan', () => {
    expect([formatYuan(0), formatYuan(5), formatYuan(6800), formatYuan(123456), formatYuan(-5)]).toEqual([
      '0.00',
      '0.05',
      '68.00',
      '1234.56',
      '-0.05',
    ]);
  });
});
