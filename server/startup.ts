import { lstatSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { PaymentProviderId } from './domain/payment-provider';

/**
 * A start that cannot succeed for a reason outside the code: a port in use, a database that
 * cannot be reached, a catalogue file that cannot be read. `variable` names the environment
 * variable to look at; the message is one line for the operator, names that variable and
 * carries no secret. `npm start` prints it without a stack trace and exits 1.
 */
export class StartupError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(message);
    this.name = 'StartupError';
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The operator's reading of why `listen(port, host)` failed, as a StartupError naming
 * `variable` (`PORT` or `SANDBOX_PORT`) or `HOST`; any other failure is returned unchanged.
 */
export function listenFailure(error: unknown, variable: string, port: number, host: string): unknown {
  switch (codeOf(error)) {
    case 'EADDRINUSE':
      return new StartupError(
        variable,
        `${variable} ${port} is in use on ${host}: stop what listens there or set ${variable} to a free port`,
      );
    case 'EACCES':
      return new StartupError(
        variable,
        `${variable} ${port} on ${host} is not allowed for this user (ports below 1024 need privileges): set ${variable} to another port`,
      );
    case 'EADDRNOTAVAIL':
      return new StartupError(
        'HOST',
        `HOST ${host} is not an address of this machine: set HOST to one of its addresses, or 0.0.0.0`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StartupError('HOST', `HOST ${host} does not resolve: set HOST to an address of this machine`);
    default:
      return error;
  }
}

/** `url` with its password, if any, replaced by `***`. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'that URL';
  }
}

/**
 * One line saying why: the error's message, or for an AggregateError (a name resolving to
 * several addresses, each refused) the distinct messages of its parts.
 */
export function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return [...new Set(error.errors.map(reasonOf))].join('; ');
  }
  const message = error instanceof Error ? error.message : String(error);
  return (message || codeOf(error) || 'unknown error').replace(/\s*\n\s*/g, ' ');
}

/**
 * The outermost directory that creating `directory` (recursively) would add, or `undefined`
 * when it exists already or cannot be created (a file or a symbolic link to nothing is in the
 * way): what a failed start removes so that it leaves nothing new behind. Never throws.
 */
export function newDirectoryFor(directory: string): string | undefined {
  let missing: string | undefined;
  let path = resolve(directory);
  try {
    // lstat: a symbolic link, even to nothing, is the operator's and is never removed.
    while (!lstatSync(path, { throwIfNoEntry: false }) && dirname(path) !== path) {
      missing = path;
      path = dirname(path);
    }
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ? missing : undefined;
  } catch {
    return undefined;
  }
}

/** What the ready lines say: where the server and the sandbox listen, and who takes payments. */
export interface ReadySummary {
  serverUrl: string;
  /** `PostgreSQL (DATABASE_URL)` or `PGlite in <DATA_DIR>`. */
  storage: string;
  /** Set while the sandbox runs. */
  sandboxUrl?: string;
  /** The upstreams the server reaches through the sandbox (services.ts `EMULATED_UPSTREAMS`). */
  emulated: readonly string[];
  /** Who opens new bills: the WeChat mini-program's (`WX_MINI`) and Douyin's (`TT_MINI` when routed, else `BC_WX_WAP`). */
  weapp: PaymentProviderId;
  tt: PaymentProviderId;
  /** Every provider bills are asked about: one no new bill goes to still serves those opened there earlier. */
  providers: readonly PaymentProviderId[];
}

/** One line of the start's announcement, with the fields a JSON log carries beside it. */
export interface ReadyLine {
  line: string;
  fields?: Record<string, unknown>;
}

const PROVIDER_NAMES = {
  gateway: 'the payment gateway',
  wechatpay: 'WeChat Pay',
  douyin_guaranteed: 'Douyin 担保支付',
  douyin_trade: 'Douyin 通用交易系统',
} as const;
const PROVIDER_UPSTREAMS = {
  gateway: 'payment gateway',
  wechatpay: 'WeChat Pay',
  douyin_guaranteed: 'Douyin 担保支付',
  douyin_trade: 'Douyin 通用交易系统',
} as const;

/**
 * The ready lines `npm start` prints once it serves: people read them, and scripts find the URLs
 * in them (`Checkout server\s+(http:\S+)`, `Sandbox\s+(http:\S+)`). Every provider is marked
 * `(sandbox)` when the sandbox stands in for it, and the sandbox's line names every upstream it
 * stands in for, WeChat Pay included while only bills opened there earlier use it.
 */
export function readyLines(summary: ReadySummary): ReadyLine[] {
  const named = (provider: PaymentProviderId) =>
    `${PROVIDER_NAMES[provider]}${summary.emulated.includes(PROVIDER_UPSTREAMS[provider]) ? ' (sandbox)' : ''}`;
  const earlier = summary.providers.filter((provider) => provider !== summary.weapp && provider !== summary.tt);
  const payments = [
    `WeChat mini-program: ${named(summary.weapp)}`,
    `Douyin: ${named(summary.tt)}`,
    ...earlier.map((provider) => `bills opened earlier at ${PROVIDER_NAMES[provider]}: ${named(provider)}`),
  ].join('; ');
  return [
    {
      line: `Checkout server  ${summary.serverUrl}   (storage: ${summary.storage})`,
      fields: { url: summary.serverUrl },
    },
    {
      line: `Payments         ${payments}`,
      fields: { weapp: summary.weapp, tt: summary.tt, providers: summary.providers },
    },
    summary.sandboxUrl
      ? {
          line: `Sandbox          ${summary.sandboxUrl}   (offline ${summary.emulated.join(', ')})`,
          fields: { url: summary.sandboxUrl, emulated: summary.emulated },
        }
      : { line: 'Sandbox          off (every upstream has a base URL)' },
  ];
}
