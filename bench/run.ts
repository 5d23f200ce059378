import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { bundleWeight } from './benchmarks/bundle-weight';
import { checkoutThroughput } from './benchmarks/checkout-throughput';
import { coldStart } from './benchmarks/cold-start';
import { hungGateway } from './benchmarks/hung-gateway';
import { statusPolling } from './benchmarks/status-polling';
import { sweeperCost } from './benchmarks/sweeper-cost';
import { upstreamAmplification } from './benchmarks/upstream-amplification';
import { webhookStorm, wechatPayNotificationStorm } from './benchmarks/webhook-storm';
import { formatTable, ResultRow } from './lib/report';

const BENCHMARKS: Record<string, () => Promise<ResultRow[]>> = {
  'status-polling': statusPolling,
  'upstream-amplification': upstreamAmplification,
  'webhook-storm': webhookStorm,
  'webhook-storm-wechatpay': wechatPayNotificationStorm,
  'sweeper-cost': sweeperCost,
  'hung-gateway': hungGateway,
  'checkout-throughput': checkoutThroughput,
  'cold-start': coldStart,
  'bundle-weight': bundleWeight,
};

/** `npm run bench [name …]`: runs the benchmarks and writes bench/results/latest.{txt,json}. */
async function main() {
  const selected = process.argv.slice(2);
  const names = selected.length > 0 ? selected : Object.keys(BENCHMARKS);
  const started = Date.now();
  const rows: ResultRow[] = [];
  for (const name of names) {
    const benchmark = BENCHMARKS[name];
    if (!benchmark) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
    process.stderr.write(`running ${name}…\n`);
    rows.push(...(await benchmark()));
  }
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadGenerator: 'autocannon 8, own process, pipelining 1',
  };
  const seconds = Math.round((Date.now() - started) / 1000);
  const text = [
    `npm run bench — ${new Date().toISOString()} — ${seconds} s`,
    `machine: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}; load: ${machine.loadGenerator}`,
    '',
    formatTable(rows),
    '',
  ].join('\n');
  const directory = join(__dirname, 'results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'latest.txt'), text);
  writeFileSync(
    join(directory, 'latest.json'),
    `${JSON.stringify({ at: new Date().toISOString(), seconds, machine, rows }, null, 2)}\n`,
  );
  process.stdout.write(text);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
