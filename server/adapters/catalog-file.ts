import { readFileSync } from 'node:fs';
import { Catalog, catalogSchema, DEMO_CATALOG } from '../domain/catalog';
import { reasonOf, StartupError } from '../startup';

/** How many of a catalogue's problems the boot message lists. */
const LISTED_PROBLEMS = 5;

/**
 * The demo catalogue, or `CATALOG_FILE` (JSON `{"items": [{sku, title, price}]}`), validated at
 * boot. A file that cannot be read, is not JSON or is not a valid catalogue throws a
 * StartupError naming CATALOG_FILE and, for an invalid one, where each problem is (`items.0.price`).
 */
export function loadCatalog(file: string | undefined): Catalog {
  if (!file) return new Catalog(DEMO_CATALOG);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new StartupError('CATALOG_FILE', `CATALOG_FILE ${file} cannot be read: ${reasonOf(error)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new StartupError('CATALOG_FILE', `CATALOG_FILE ${file} is not JSON: ${reasonOf(error)}`);
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    const listed = issues
      .slice(0, LISTED_PROBLEMS)
      .map((issue) => `${issue.path.join('.') || 'catalog'}: ${issue.message}`);
    if (issues.length > LISTED_PROBLEMS) listed.push(`and ${issues.length - LISTED_PROBLEMS} more`);
    throw new StartupError('CATALOG_FILE', `CATALOG_FILE ${file} is not a valid catalogue: ${listed.join('; ')}`);
  }
  return new Catalog(parsed.data.items);
}
