import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export type MiniProgramBuildPlatform = 'weapp' | 'tt';

export interface BuildMiniProgramOptions {
  /** More build environment, e.g. server secrets that must not end up in the bundle. */
  extraEnv?: Record<string, string>;
}

/**
 * Builds the mini-program for one platform into a fresh temporary directory, with the
 * checkout server's address baked in, exactly as `npm run build:<platform>` does.
 */
export async function buildMiniProgram(
  platform: MiniProgramBuildPlatform,
  apiBaseUrl: string,
  { extraEnv = {} }: BuildMiniProgramOptions = {},
): Promise<string> {
  const distDir = mkdtempSync(join(tmpdir(), `checkout-${platform}-`));
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'taro'), ['build', '--type', platform], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...extraEnv,
      NODE_ENV: 'production',
      CHECKOUT_API_BASE_URL: apiBaseUrl,
      CHECKOUT_DIST_DIR: distDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`taro build --type ${platform} failed (exit ${code}):\n${output.slice(-4000)}`);
  return distDir;
}
