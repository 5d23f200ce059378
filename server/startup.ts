import { lstatSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

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
