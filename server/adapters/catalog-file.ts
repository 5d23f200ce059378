import { readFileSync } from 'node:fs';
import { Catalog, catalogSchema, DEMO_CATALOG } from '../domain/catalog';

/** The demo catalogue, or `CATALOG_FILE` (JSON `{"items": [{sku, title, price}]}`), validated at boot. */
export function loadCatalog(file: string | undefined): Catalog {
  if (!file) return new Catalog(DEMO_CATALOG);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`CATALOG_FILE ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`CATALOG_FILE ${file}: ${issue?.path.join('.') || 'catalog'}: ${issue?.message}`);
  }
  return new Catalog(parsed.data.items);
}
