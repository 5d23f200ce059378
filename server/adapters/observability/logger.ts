import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../../domain/observability';
import { currentRequestId } from './request-context';

/** pino's levels, and `silent` (nothing at all). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `json`: one JSON object a line; `pretty`: pino-pretty for people; `auto`: pretty on a terminal only. */
export type LogFormat = 'json' | 'pretty' | 'auto';

export interface LogOptions {
  level: LogLevel;
  format: LogFormat;
  /** Where the lines go (tests: a memory stream); stdout by default. Always JSON when given. */
  destination?: DestinationStream;
}

/** The server's root logger (pino): adapters log through it directly, the domain through `loggerPort`. */
export type RootLogger = PinoLogger;

/**
 * Fields whose values never reach a log line: credentials in headers, session tokens and keys,
 * secrets, signatures. Nothing logs them today; this holds if one slips in. Top-level names only:
 * wildcard paths cost a walk of every line's fields, on every request line.
 */
const REDACTED = [
  'authorization',
  'cookie',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'token',
  'sessionKey',
  'session_key',
  'secret',
  'signature',
  'apiKey',
];

const NOTHING = {};
/**
 * JSON lines are written in batches of this many bytes, or every FLUSH_INTERVAL_MS when fewer:
 * a write per line (a system call, and a wake-up of whatever reads the pipe) costs more than the
 * line, at thousands of requests a second.
 */
const BATCH_BYTES = 8 * 1024;
const FLUSH_INTERVAL_MS = 250;
/** Unwritten output beyond which lines are dropped (the reader has stopped reading). */
const MAX_UNWRITTEN_BYTES = 16 * 1024 * 1024;
/** At exit, how long pino's last synchronous flush may wait for a reader that does not read. */
const EXIT_FLUSH_PATIENCE_MS = 2000;

/**
 * sonic-boom's `retryEAGAIN`: while the server runs, a full pipe is waited out (asynchronously,
 * bounded by MAX_UNWRITTEN_BYTES). At exit pino flushes synchronously, retrying a full pipe
 * forever: a reader that stopped reading would keep a stopped server from exiting. There, after
 * EXIT_FLUSH_PATIENCE_MS of a full pipe, the rest is given up and the process exits.
 */
function giveUpOnStalledReaderAtExit(): () => boolean {
  let exiting = false;
  let fullSince: number | undefined;
  // Registered before pino's own exit flush, so it runs first.
  process.once('exit', () => (exiting = true));
  return () => {
    if (!exiting) return true;
    const now = Date.now();
    fullSince ??= now;
    return now - fullSince < EXIT_FLUSH_PATIENCE_MS;
  };
}

/**
 * The root logger: JSON lines `{"level":"info","time":<ms since 1970>,"pid","hostname",…,"msg"}`
 * on stdout, each line of a request's handling with its `reqId`; or, in `pretty` format,
 * pino-pretty's coloured lines (written synchronously: development only). JSON lines are written
 * asynchronously, lines queued meanwhile going out together: a request never waits for stdout
 * (a pipe to a log shipper that falls behind would otherwise stall every request). pino writes
 * what is still queued when the process exits; `flushLogs` waits for it before a deliberate exit.
 */
export function createLogger(options: LogOptions): RootLogger {
  const settings = {
    level: options.level,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACTED, censor: '[redacted]' },
    // A line outside any request, or one that names its request already, is written as it is.
    mixin(fields: object) {
      if ('reqId' in fields) return NOTHING;
      const reqId = currentRequestId();
      return reqId === undefined ? NOTHING : { reqId };
    },
    mixinMergeStrategy: (fields: object, mixed: object) => (mixed === NOTHING ? fields : Object.assign(mixed, fields)),
  };
  if (options.destination) return pino(settings, options.destination);
  const prettyOutput = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true);
  if (!prettyOutput) {
    const destination = pino.destination({
      dest: 1,
      sync: false,
      minLength: BATCH_BYTES,
      // Below BATCH_BYTES nothing would be written while the server is quiet.
      periodicFlush: FLUSH_INTERVAL_MS,
      // A reader that stopped reading (a stalled log shipper) must not grow memory without end:
      // past this much unwritten output new lines are dropped, not queued.
      maxLength: MAX_UNWRITTEN_BYTES,
      retryEAGAIN: giveUpOnStalledReaderAtExit(),
    });
    return pino(settings, destination);
  }
  return pino(
    settings,
    pretty({
      sync: true,
      colorize: process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      destination: 1,
    }),
  );
}

/** The domain's `Logger` port over the root logger; `component` tags every line when given. */
export function loggerPort(root: RootLogger, component?: string): Logger {
  const logger = component ? root.child({ component }) : root;
  return {
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}

/** Calls `done` once every line logged so far is written (or after `timeoutMs` at most). */
export function flushLogs(logger: RootLogger, done: () => void, timeoutMs = 2000): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    done();
  };
  setTimeout(once, timeoutMs).unref();
  try {
    logger.flush(() => once());
  } catch {
    once();
  }
}

/** A logger that writes nothing (tests that do not look at logs). */
export function silentLogger(): RootLogger {
  return pino({ level: 'silent' });
}
