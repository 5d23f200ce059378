import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountedRouters } from '../../server/http/protocol';
import { describedOperations } from '../../server/openapi/operations';
import { makeSandbox } from './helpers';

/**
 * The README's table of sandbox controls names every control the sandbox serves, as
 * `METHOD /sandbox/…/:param`. WeChat Pay's (`/sandbox/wechatpay/…`) are the exception the README
 * states: listed in its own section and described in `GET /openapi.json`.
 */
describe("the README's sandbox control table", () => {
  it('should have a row for every control of the sandbox but WeChat Pay’s', async () => {
    const sandbox = makeSandbox();
    try {
      const served = mountedRouters(sandbox.app)
        .flatMap((router) => [...describedOperations(router)])
        .filter(
          (operation) => operation.path.startsWith('/sandbox/') && !operation.path.startsWith('/sandbox/wechatpay/'),
        )
        .map((operation) => `${operation.method.toUpperCase()} ${operation.path.replace(/\{([^}]+)\}/g, ':$1')}`);
      expect(served).toEqual(expect.arrayContaining(['GET /sandbox/douyin/keys', 'POST /sandbox/douyin/refunds/hold']));
      const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
      const rows = new Set([...readme.matchAll(/^\| `([A-Z]+ \/sandbox\/[^`]*)` \|/gm)].map(([, route]) => route));
      expect(served.filter((route) => !rows.has(route))).toEqual([]);
      // And no row for a control that is not served.
      expect([...rows].filter((route) => !served.includes(route))).toEqual([]);
    } finally {
      await sandbox.close();
    }
  });
});
