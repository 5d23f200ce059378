import { DataDirInUseError } from './adapters/storage/data-dir-lock';
import { ConfigError, loadConfig } from './config';
import { createLogger, flushLogs, loggerPort, RootLogger } from './adapters/observability/logger';
import { startServices } from './services';
import { StartupError } from './startup';
import type { PaymentProviderId } from './domain/payment-provider';

/** A stop that outlasts this (a hung close) ends the process anyway; a lock it leaves is stale. */
const STOP_DEADLINE_MS = 10_000;

/** Exits once the log lines written so far are out (the log and stdout to a pipe are asynchronous). */
function exitAfterOutput(logger: RootLogger, code: number): void {
  flushLogs(logger, () => process.stdout.write('', () => process.stderr.write('', () => process.exit(code))));
}

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logging);
  // The start and stop lines are written whatever LOG_LEVEL says (but silent): scripts and
  // supervisors wait for the ready line.
  const quieter = ['fatal', 'error', 'warn'].includes(config.logging.level);
  const log = loggerPort(quieter ? logger.child({}, { level: 'info' }) : logger);

  // A signal during the start is kept and acted on once there is something to stop; one right
  // after the ready line must not find the default handler (which would kill without a stop).
  let stopRequested: string | undefined;
  let stopping = false;
  let onSignal = (signal: string) => {
    if (stopRequested) return;
    stopRequested = signal;
    // A start that hangs (an upstream or a database not answering) must not hold the stop forever.
    log.info('stopping', { signal, during: 'start' });
    setTimeout(() => {
      log.error('the start did not finish: exiting without a stop', { signal, afterMs: STOP_DEADLINE_MS });
      exitAfterOutput(logger, 1);
    }, STOP_DEADLINE_MS).unref();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  let services: Awaited<ReturnType<typeof startServices>>;
  try {
    services = await startServices(config, { logger });
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // A terminal's Ctrl-C reaches both npm and the server, and npm forwards it: the second is ignored.
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    setTimeout(() => {
      log.error('stop took too long, exiting anyway', { signal, afterMs: STOP_DEADLINE_MS });
      exitAfterOutput(logger, 1);
    }, STOP_DEADLINE_MS);
    try {
      await services.close();
      log.info('stopped', { signal });
      exitAfterOutput(logger, 0);
    } catch (error) {
      log.error('stop failed', { signal, error: error instanceof Error ? error.message : String(error) });
      exitAfterOutput(logger, 1);
    }
  };
  onSignal = (signal) => void stop(signal);
  if (stopRequested) {
    void stop(stopRequested);
    return;
  }

  const storage = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `PGlite in ${config.dataDir}`;
  const wechatPayEmulated = services.paymentRoutes.WX_MINI === 'wechatpay' && !config.wechatpay.baseUrl;
  const emulated = [
    config.gateway.baseUrl ? null : 'payment gateway',
    config.wechat.apiBaseUrl ? null : 'WeChat',
    wechatPayEmulated ? 'WeChat Pay' : null,
  ]
    .filter(Boolean)
    .join(', ');
  const providerNames: Record<PaymentProviderId, string> = {
    gateway: 'the payment gateway',
    wechatpay: 'WeChat Pay',
    douyin_guaranteed: 'Douyin 担保支付',
    douyin_trade: 'Douyin 通用交易系统',
  };
  const { WX_MINI: weapp, BC_WX_WAP: cashier, TT_MINI: ttMini } = services.paymentRoutes;
  const tt = ttMini ?? cashier;
  // The ready lines: people read them, and scripts find the URLs in them (`Checkout server\s+(http:\S+)`).
  log.info(`Checkout server  ${services.serverUrl}   (storage: ${storage})`, { url: services.serverUrl });
  log.info(
    `Payments         WeChat mini-program: ${providerNames[weapp]}${wechatPayEmulated ? ' (sandbox)' : ''}; Douyin: ${providerNames[tt]}`,
    { weapp, tt },
  );
  if (services.sandboxUrl) {
    log.info(`Sandbox          ${services.sandboxUrl}   (offline ${emulated})`, { url: services.sandboxUrl });
  } else {
    log.info('Sandbox          off (every upstream has a base URL)');
  }
  // Out now rather than with the next batch: whoever started the server is waiting for them.
  logger.flush();
}

main().catch((error) => {
  // An operator's problem (StartupError) reads as one line; anything else is a bug: keep its stack.
  const detail = error instanceof StartupError ? error.message : error instanceof Error ? error.stack : String(error);
  process.stderr.write(`Failed to start: ${detail}\n`);
  process.exit(1);
});
