import { createPublicKey, createSign, createVerify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, makeSandbox } from './helpers';

describe("the Douyin payment systems' control endpoints", () => {
  it('should hand out matching 2048-bit RSA pairs, a salt and a token, the same across a restart on one data directory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'douyin-pay-keys-'));
    try {
      const first = makeSandbox({ dataDir });
      const keys = (await api(first).get('/sandbox/douyin/keys').expect(200)).body as Record<string, string>;
      await first.close();
      for (const [privateKey, publicKey] of [
        [keys.appPrivateKey, keys.appPublicKey],
        [keys.platformPrivateKey, keys.platformPublicKey],
      ]) {
        expect(createPublicKey(publicKey).asymmetricKeyDetails?.modulusLength).toBe(2048);
        const signature = createSign('RSA-SHA256').update('message').sign(privateKey);
        expect(createVerify('RSA-SHA256').update('message').verify(publicKey, signature)).toBe(true);
      }
      expect(keys.appPublicKey).not.toBe(keys.platformPublicKey);
      expect(keys.salt.length).toBeGreaterThanOrEqual(32);
      expect(keys.token.length).toBeGreaterThan(0);
      const again = makeSandbox({ dataDir });
      expect((await api(again).get('/sandbox/douyin/keys').expect(200)).body).toEqual(keys);
      await again.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('should refuse a bad settle body with 400 and an unknown order with 404', async () => {
    const sandbox = makeSandbox();
    try {
      expect((await api(sandbox).get('/sandbox/douyin/orders').expect(200)).body).toEqual({ orders: [] });
      const bad = await api(sandbox)
        .post('/sandbox/douyin/orders/NOSUCH1/settle')
        .send({ result: 'refunded' })
        .expect(400);
      expect(bad.body.error.code).toBe('BAD_REQUEST');
      const unknown = await api(sandbox)
        .post('/sandbox/douyin/orders/NOSUCH1/settle')
        .send({ result: 'paid' })
        .expect(404);
      expect(unknown.body.error.code).toBe('NO_SUCH_ORDER');
    } finally {
      await sandbox.close();
    }
  });
});
