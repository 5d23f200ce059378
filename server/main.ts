import { ConfigError, loadConfig } from './config';
import { consoleLogger } from './log';
import { startServices } from './services';
import { StartupError } from './startup';

async function main() {
  const log = consoleLogger();
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

  const services = await startServices(config, { log });
  const storage = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `PGlite in ${config.dataDir}`;
  const emulated = [config.gateway.baseUrl ? null : 'payment gateway', config.wechat.apiBaseUrl ? null : 'WeChat']
    .filter(Boolean)
    .join(', ');
  process.stdout.write(
    [
      `Checkout server  ${services.serverUrl}   (storage: ${storage})`,
      services.sandboxUrl
        ? `Sandbox          ${services.sandboxUrl}   (offline ${emulated})`
        : 'Sandbox          off (every upstream has a base URL)',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    const forced = setTimeout(() => process.exit(1), 10_000);
    forced.unref();
    await services.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error) => {
  // An operator's problem (StartupError) reads as one line; anything else is a bug: keep its stack.
  const detail = error instanceof StartupError ? error.message : error instanceof Error ? error.stack : String(error);
  process.stderr.write(`Failed to start: ${detail}\n`);
  process.exit(1);
});
