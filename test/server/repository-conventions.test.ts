import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENVIRONMENT_VARIABLES, loadConfig } from '../../server/config';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** `.env.example` and the README's configuration table name exactly what the server reads. */
describe('configuration documents', () => {
  const example = read('.env.example');
  const listed = [...example.matchAll(/^# ([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, name, value]) => ({ name, value }));

  it('should list in .env.example every variable the server reads, once, in the same order', () => {
    expect(listed.map(({ name }) => name)).toEqual([...ENVIRONMENT_VARIABLES]);
  });

  it('should give in .env.example defaults that are the server’s own defaults', () => {
    const withDefaults = Object.fromEntries(
      listed.filter(({ value }) => value !== '').map(({ name, value }) => [name, value]),
    );
    expect(loadConfig(withDefaults)).toEqual(loadConfig({}));
  });

  it('should document every variable the server reads in the README’s table, and no other', () => {
    const documented = [...read('README.md').matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map(([, name]) => name);
    expect(documented).toEqual([...ENVIRONMENT_VARIABLES]);
  });
});

describe('repository files', () => {
  it('should carry the licence package.json names', () => {
    const { license } = JSON.parse(read('package.json')) as { license: string };
    expect(license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License/);
  });

  it('should pin the Node.js major that package.json engines allow', () => {
    const { engines } = JSON.parse(read('package.json')) as { engines: { node: string } };
    const major = Number(read('.nvmrc').trim());
    expect(engines.node).toBe(`>=${major}`);
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(major);
  });
});
