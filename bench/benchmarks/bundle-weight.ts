import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../lib/processes';
import type { ResultRow } from '../lib/report';

const PLATFORMS = ['weapp', 'tt'] as const;
const ADDED_LIMIT_BYTES = 40 * 1024;
const MAIN_PACKAGE_LIMIT_BYTES = 2 * 1024 * 1024;

async function build(projectDir: string, platform: string): Promise<string> {
  const distDir = mkdtempSync(join(tmpdir(), `bench-bundle-${platform}-`));
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'taro'), ['build', '--type', platform], {
    cwd: projectDir,
    env: { ...process.env, NODE_ENV: 'production', CHECKOUT_DIST_DIR: distDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`taro build --type ${platform} in ${projectDir} failed:\n${output.slice(-3000)}`);
  return distDir;
}

function bytes(directory: string, include: (file: string) => boolean): number {
  let total = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) total += bytes(path, include);
    else if (include(entry.name)) total += statSync(path).size;
  }
  return total;
}

const kb = (value: number) => `${(value / 1024).toFixed(1)} KB`;

/** JS bytes of each platform's checkout next to a Taro 4 React hello-world built in the same run. */
export async function bundleWeight(): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  for (const platform of PLATFORMS) {
    const checkout = await build(ROOT, platform);
    const hello = await build(join(ROOT, 'bench', 'hello-world'), platform);
    try {
      const isJs = (file: string) => file.endsWith('.js');
      const checkoutJs = bytes(checkout, isJs);
      const helloJs = bytes(hello, isJs);
      const checkoutPackage = bytes(checkout, (file) => !file.endsWith('.map') && !file.endsWith('.LICENSE.txt'));
      rows.push({
        benchmark: 'bundle weight',
        case: `${platform}: JS the checkout adds to a hello-world`,
        measured: `${kb(checkoutJs - helloJs)} (checkout ${kb(checkoutJs)})`,
        baseline: `hello-world ${kb(helloJs)}`,
        ratio: checkoutJs / helloJs,
        target: '≤ 40 KB added',
        met: checkoutJs - helloJs <= ADDED_LIMIT_BYTES,
      });
      rows.push({
        benchmark: 'bundle weight',
        case: `${platform}: whole package (all files)`,
        measured: kb(checkoutPackage),
        baseline: 'main-package limit 2048 KB',
        ratio: checkoutPackage / MAIN_PACKAGE_LIMIT_BYTES,
        target: 'far below 2 MB',
        met: checkoutPackage <= MAIN_PACKAGE_LIMIT_BYTES / 4,
      });
    } finally {
      rmSync(checkout, { recursive: true, force: true });
      rmSync(hello, { recursive: true, force: true });
    }
  }
  return rows;
}
