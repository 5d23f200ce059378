import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
export const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

export interface RunningServer {
  url: string;
  sandboxUrl?: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the checkout server (`server/main.ts`) as its own process, as `npm start` does. */
export function startCheckoutServer(env: Record<string, string>, timeoutMs = 60_000): Promise<RunningServer> {
  // The gateway doubles of the benchmarks call back on loopback.
  return startServerProcess('server/main.ts', { ALLOW_UNREACHABLE_WEBHOOKS: 'true', ...env }, timeoutMs);
}

/** `BENCH_PROFILE_DIR=…` writes a V8 CPU profile of every server the bench starts there. */
const profileArgs = process.env.BENCH_PROFILE_DIR
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
  : [];

/** Starts a server script that prints `Checkout server <url>` and `Sandbox <url>|off` when ready. */
export async function startServerProcess(
  script: string,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<RunningServer> {
  const child = spawn(TSX, [...profileArgs, script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', SANDBOX_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
  child.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-20_000)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const server = /Checkout server\s+(http:\S+)/.exec(output);
    const sandbox = /Sandbox\s+(http:\S+)/.exec(output);
    if (server && (sandbox || /Sandbox\s+off/.test(output))) {
      return {
        url: server[1],
        sandboxUrl: sandbox?.[1],
        child,
        output: () => output,
        stop: () => stopProcess(child),
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`checkout server did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Runs a TypeScript file of the bench in its own process and returns its JSON on stdout. */
export async function runScript<T>(file: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const child = spawn(TSX, [join(__dirname, '..', file), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`${file} failed (exit ${code}):\n${stderr.slice(-4000)}`);
  return JSON.parse(stdout) as T;
}
