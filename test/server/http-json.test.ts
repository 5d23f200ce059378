import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { requestJson, UpstreamUnreachable } from '../../server/adapters/http-json';

describe('requestJson against an upstream that never answers', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // Accepts every request and never answers, like a hung gateway.
    server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/2/rest/bills`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('should give up on every call at its deadline, even one that waited for a pooled socket', async () => {
    const timeoutMs = 1000;
    // More calls than the pool has sockets (64): the last ones wait for a socket first.
    const elapsed = await Promise.all(
      Array.from({ length: 80 }, async () => {
        const started = Date.now();
        await expect(requestJson({ method: 'GET', url, timeoutMs })).rejects.toBeInstanceOf(UpstreamUnreachable);
        return Date.now() - started;
      }),
    );
    // A call whose clock started only with its socket would take about two deadlines.
    expect(Math.max(...elapsed)).toBeLessThan(timeoutMs * 1.6);
  });
});
