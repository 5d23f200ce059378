import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { LoadSpec, LoadResult } from './load';

/** autocannon's per-connection context in the checkout flow. */
interface CheckoutContext {
  orderNo?: string;
}

/** Runs one autocannon load described on the command line; prints a LoadResult as JSON. */
async function main() {
  const spec = JSON.parse(process.argv[2]) as LoadSpec;
  const options: autocannon.Options = {
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    method: spec.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...spec.headers },
  };
  if (spec.requestsPerSecond !== undefined) options.overallRate = spec.requestsPerSecond;
  if (spec.amount !== undefined) options.amount = spec.amount;
  else options.duration = spec.durationSeconds ?? 10;

  if (spec.bodiesFile) {
    const bodies = JSON.parse(readFileSync(spec.bodiesFile, 'utf8')) as string[];
    let next = 0;
    options.requests = [
      {
        method: 'POST',
        setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
      },
    ];
  }
  if (spec.messagesFile) {
    const messages = JSON.parse(readFileSync(spec.messagesFile, 'utf8')) as Array<{
      headers: Record<string, string>;
      body: string;
    }>;
    let next = 0;
    options.requests = [
      {
        method: 'POST',
        setupRequest: (request) => {
          const message = messages[next++ % messages.length];
          return { ...request, headers: { ...request.headers, ...message.headers }, body: message.body };
        },
      },
    ];
  }
  if (spec.checkoutFlow) {
    const { token, items } = spec.checkoutFlow;
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
    options.requests = [
      {
        method: 'POST',
        path: '/api/orders',
        headers: auth,
        body: JSON.stringify({ items }),
        onResponse: (status, body, context) => {
          if (status === 201) (context as CheckoutContext).orderNo = JSON.parse(body).order.orderNo;
        },
      },
      {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ platform: 'weapp' }),
        setupRequest: (request, context) => ({
          ...request,
          path: `/api/orders/${(context as CheckoutContext).orderNo}/pay`,
        }),
      },
    ];
  }

  if (spec.rotatingPaths) {
    const paths = spec.rotatingPaths;
    let next = 0;
    options.requests = [
      { method: 'GET', setupRequest: (request) => ({ ...request, path: paths[next++ % paths.length] }) },
    ];
  }

  let maxMs = 0;
  let slowerThan = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error, finished) => (error ? reject(error) : resolve(finished)));
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (responseTime > maxMs) maxMs = responseTime;
      if (spec.slowerThanMs !== undefined && responseTime > spec.slowerThanMs) slowerThan += 1;
    });
  });
  const output: LoadResult = {
    requests: result.requests.total,
    durationSeconds: result.duration,
    requestsPerSecond: result.requests.total / result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latencyMaxMs: Math.max(maxMs, result.latency.max),
    slowerThan,
  };
  process.stdout.write(JSON.stringify(output));
}

main().catch((error) => {
  process.stderr.write(String(error instanceof Error ? error.stack : error));
  process.exit(1);
});
