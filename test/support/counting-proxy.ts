import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEVELOPMENT_SECRETS } from '../../server/config';

export interface CountingProxy {
  url: string;
  /** Where requests go; until set, they are counted and answered 502. */
  forwardTo(target: string): void;
  /** Requests that reached the proxy with this path. */
  count(path: string): number;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the gateway that counts the requests reaching it, by path. It can
 * be started before its target exists (a server must be told the gateway's URL at boot, and
 * the sandbox it forwards to is that server's own).
 */
export async function countingProxy(
  target?: string,
  /** Answers a request itself instead of passing it on, when it returns true. */
  intercept?: (incoming: IncomingMessage, outgoing: ServerResponse) => boolean,
): Promise<CountingProxy> {
  const counts = new Map<string, number>();
  let forwardTarget = target;
  const server: Server = createServer((incoming, outgoing) => {
    const path = new URL(incoming.url ?? '/', 'http://proxy').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    if (intercept?.(incoming, outgoing)) return;
    if (!forwardTarget) {
      outgoing.statusCode = 502;
      outgoing.end('no target yet');
      return;
    }
    const forward = httpRequest(
      new URL(incoming.url ?? '/', forwardTarget),
      { method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forward.on('error', () => outgoing.destroy());
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    forwardTo(url) {
      forwardTarget = url;
    },
    count: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Environment for a server that talks to the gateway at `baseUrl` with the sandbox's development secrets. */
export function gatewayEnv(baseUrl: string): Record<string, string> {
  return {
    GATEWAY_BASE_URL: baseUrl,
    GATEWAY_APP_ID: DEVELOPMENT_SECRETS.gatewayAppId,
    GATEWAY_APP_SECRET: DEVELOPMENT_SECRETS.gatewayAppSecret,
    GATEWAY_MASTER_SECRET: DEVELOPMENT_SECRETS.gatewayMasterSecret,
  };
}
