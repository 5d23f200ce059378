import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { createLogger } from '../../server/adapters/observability/logger';
import { observedCertificateDownloads } from '../../server/adapters/observability/upstreams';
import {
  WechatPayClient,
  type CertificateDownloadReport,
  type WechatPayClientOptions,
} from '../../server/adapters/payments/wechatpay/client';
import { WechatPayVerificationError } from '../../server/adapters/payments/wechatpay/errors';
import { notificationRefusal } from '../../server/adapters/payments/wechatpay/notification';
import { VOUCHER_MEMORY_MS } from '../../server/adapters/payments/wechatpay/platform-keys';
import type { WechatPaySandboxKeys } from '../../server/sandbox/wechatpay';
import { encryptResource } from '../../server/sandbox/wechatpay/protocol';
import { CheckoutHarness, eventually, startHarness } from '../support/checkout-harness';
import { STORAGES, TestDatabase } from '../support/databases';
import { logLines, sample } from '../support/observability';
import {
  listenSandbox,
  newOutTradeNo,
  opensslSign,
  sharedKeys,
  startNotifyReceiver,
  waitUntil,
  type ListeningSandbox,
  type NotifyReceiver,
} from '../support/wechatpay';
import { failure } from '../support/failure';

/*
 * The once-a-minute download of WeChat Pay's platform certificates is shared by every message
 * naming a serial we do not hold. A notification anyone can POST must not be able to spend it:
 * only one whose resource decrypts with the APIv3 key (and whose timestamp is fresh) may, and
 * each such resource at most once. Every download is counted and logged.
 */

function clientOf(url: string, keys: WechatPaySandboxKeys, overrides: Partial<WechatPayClientOptions> = {}) {
  return new WechatPayClient({
    baseUrl: url,
    mchid: keys.mchid,
    appid: keys.appid,
    merchantSerialNo: keys.serialNo,
    merchantPrivateKey: keys.merchantPrivateKey,
    apiV3Key: keys.apiV3Key,
    timeoutMs: 5000,
    ...overrides,
  });
}

const reasonOf = (error: unknown) => (WechatPayVerificationError.is(error) ? error.reason : error);

const prepayInput = (outTradeNo: string, notifyUrl: string) => ({
  outTradeNo,
  description: 'Coffee',
  amount: 100,
  openid: 'oTestOpenid000000000000000001',
  notifyUrl,
  expiresAt: Date.now() + 15 * 60 * 1000,
});

/** 40 hex digits, the shape of a certificate serial, that no certificate has. */
const randomSerial = () => randomBytes(20).toString('hex').toUpperCase();

/** Headers a forger can write: a fresh timestamp, any serial, a signature of nothing. */
function forgedHeaders(serial: string, timestampS = Math.floor(Date.now() / 1000)) {
  return {
    'wechatpay-timestamp': String(timestampS),
    'wechatpay-nonce': randomBytes(16).toString('hex'),
    'wechatpay-serial': serial,
    'wechatpay-signature': randomBytes(256).toString('base64'),
  };
}

function envelope(resource: Record<string, unknown>): string {
  return JSON.stringify({
    id: randomBytes(16).toString('hex'),
    create_time: '2026-11-01T10:00:00+08:00',
    resource_type: 'encrypt-resource',
    event_type: 'TRANSACTION.SUCCESS',
    summary: '支付成功',
    resource,
  });
}

describe('notifications that may cost a platform-certificate download', () => {
  let keys: WechatPaySandboxKeys;
  let running: ListeningSandbox;
  let receiver: NotifyReceiver | undefined;

  beforeAll(async () => {
    keys = await sharedKeys();
  });
  beforeEach(async () => {
    running = await listenSandbox(keys);
  });
  afterEach(async () => {
    await running.close();
    await receiver?.close();
    receiver = undefined;
  });

  /** Bodies a forger without the APIv3 key can make: none decrypts with it. */
  function forgedBodies(): string[] {
    return [
      envelope({
        algorithm: 'AEAD_AES_256_GCM',
        ciphertext: randomBytes(64).toString('base64'),
        associated_data: 'transaction',
        nonce: 'abcdefghijkl',
      }),
      envelope({
        original_type: 'transaction',
        ...encryptResource('{"mchid":"1230000109"}', 'f'.repeat(32), 'transaction'),
      }),
      envelope({ algorithm: 'AEAD_AES_256_GCM', ciphertext: '', nonce: '' }),
      '{"id":"x"}',
      'not json',
    ];
  }

  it('should let no forgery with an unknown serial spend the download, so a notification signed with a freshly rotated certificate is taken', async () => {
    let clock = Date.now();
    const reports: CertificateDownloadReport[] = [];
    const client = clientOf(running.url, keys, {
      now: () => clock,
      onCertificateDownload: (report) => reports.push(report),
    });
    const seen: unknown[] = [];
    receiver = await startNotifyReceiver(async (_hit, { headers, body }) => {
      try {
        seen.push(await client.readNotification({ headers, body }));
        return { status: 204 };
      } catch (error) {
        seen.push(error);
        const refusal = notificationRefusal(error);
        return { status: refusal.status, body: JSON.stringify(refusal.body) };
      }
    });
    const outTradeNo = newOutTradeNo();
    await client.prepayJsapi(prepayInput(outTradeNo, receiver.url));
    expect(client.platformKeys.downloads).toBe(1);

    const rotated = await request(running.url).post('/sandbox/wechatpay/certificates/rotate').send({}).expect(200);
    clock += 60_000;
    for (let round = 0; round < 4; round += 1) {
      for (const body of forgedBodies()) {
        const refused = await failure(client.readNotification({ headers: forgedHeaders(randomSerial()), body }));
        expect(reasonOf(refused)).toBe('UNKNOWN_SERIAL');
        expect(notificationRefusal(refused).status).toBe(401);
      }
    }
    expect(client.platformKeys.downloads).toBe(1);

    // WeChat Pay signs the payment's notification with the certificate it has just issued.
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid' })
      .expect(200);
    await waitUntil(() => seen.length > 0, 5000, 'the notification');
    expect(seen[0]).toMatchObject({ kind: 'transaction_succeeded', transaction: { outTradeNo } });
    expect(client.platformKeys.downloads).toBe(2);
    expect(reports.map((report) => report.outcome)).toEqual(['ok', 'ok']);
    expect(reports[1].learned).toEqual([rotated.body.serialNo]);
  });

  it('should let a resource that decrypts buy one download, never more, and never stand in for the signature', async () => {
    let clock = Date.now();
    const client = clientOf(running.url, keys, { now: () => clock });
    receiver = await startNotifyReceiver();
    const outTradeNo = newOutTradeNo();
    await client.prepayJsapi(prepayInput(outTradeNo, receiver.url));
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid' })
      .expect(200);
    await waitUntil(() => receiver!.hits.length > 0, 5000, 'the notification');
    const captured = receiver.hits[0];
    const headers = captured.headers as Record<string, string>;
    expect(client.platformKeys.downloads).toBe(1);
    const nowS = () => Math.floor(clock / 1000);

    // A genuine resource replayed under a forged signature is refused however it is dressed.
    const knownSerial = headers['wechatpay-serial'];
    const badSignature = await failure(
      client.readNotification({ headers: forgedHeaders(knownSerial, nowS()), body: captured.body }),
    );
    expect(reasonOf(badSignature)).toBe('BAD_SIGNATURE');
    // Signed by a key we do not hold (a forger's own), under its serial: the signature still counts.
    const selfSigned = { ...forgedHeaders(randomSerial(), nowS()) };
    selfSigned['wechatpay-signature'] = opensslSign(
      `${selfSigned['wechatpay-timestamp']}\n${selfSigned['wechatpay-nonce']}\n${captured.body}\n`,
      keys.merchantPrivateKey,
    );

    clock += 60_000;
    const stale = await failure(
      client.readNotification({ headers: forgedHeaders(randomSerial(), nowS() - 301), body: captured.body }),
    );
    expect(reasonOf(stale)).toBe('STALE_TIMESTAMP');
    expect(client.platformKeys.downloads).toBe(1);

    const first = await failure(client.readNotification({ headers: selfSigned, body: captured.body }));
    expect(reasonOf(first)).toBe('UNKNOWN_SERIAL');
    expect(client.platformKeys.downloads).toBe(2);

    // The same resource again, a minute later each time, under fresh serials: no other download.
    for (let replay = 0; replay < 3; replay += 1) {
      clock += 60_000;
      const again = await failure(
        client.readNotification({ headers: forgedHeaders(randomSerial(), nowS()), body: captured.body }),
      );
      expect(reasonOf(again)).toBe('UNKNOWN_SERIAL');
    }
    expect(client.platformKeys.downloads).toBe(2);

    // A resource is forgotten after a while: WeChat's own retries of it may then look again.
    clock += VOUCHER_MEMORY_MS;
    await failure(client.readNotification({ headers: forgedHeaders(randomSerial(), nowS()), body: captured.body }));
    expect(client.platformKeys.downloads).toBe(3);

    // What is genuine is still taken.
    clock = Date.now();
    expect((await client.readNotification({ headers, body: captured.body })).kind).toBe('transaction_succeeded');
  });

  it('should report every download, ok with the serials learned, refused or unavailable with why, as upstream calls and lines', async () => {
    const calls: unknown[][] = [];
    const written: string[] = [];
    const logger = createLogger({
      level: 'info',
      format: 'json',
      destination: { write: (line) => void written.push(line) },
    });
    const onCertificateDownload = observedCertificateDownloads(logger, (...call) => void calls.push(call));

    const client = clientOf(running.url, keys, { onCertificateDownload, certificateDownloadIntervalMs: 0 });
    await client.platformKeys.refresh();
    await client.platformKeys.refresh();
    const serial = keys.certificates[keys.certificates.length - 1].serialNo;

    const wrongKey = clientOf(running.url, keys, {
      onCertificateDownload,
      merchantPrivateKey: keys.platformPrivateKey,
    });
    expect(reasonOf(await failure(wrongKey.platformKeys.refresh()))).toBe('NO_CERTIFICATES');

    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = clientOf(`http://127.0.0.1:${port}`, keys, { onCertificateDownload });
    await failure(unreachable.platformKeys.refresh());

    expect(calls).toEqual([
      ['wechatpay', 'download_certificates', 'ok', expect.any(Number)],
      ['wechatpay', 'download_certificates', 'ok', expect.any(Number)],
      ['wechatpay', 'download_certificates', 'refused', expect.any(Number)],
      ['wechatpay', 'download_certificates', 'unavailable', expect.any(Number)],
    ]);
    const lines = logLines(written);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'WeChat Pay platform certificate learned',
        upstream: 'wechatpay',
        operation: 'download_certificates',
        learned: [serial],
      }),
      expect.objectContaining({
        level: 'warn',
        msg: 'WeChat Pay platform certificates could not be downloaded',
        outcome: 'refused',
        error: expect.stringContaining('SIGN_ERROR'),
      }),
      expect.objectContaining({
        level: 'warn',
        msg: 'WeChat Pay platform certificates could not be downloaded',
        outcome: 'unavailable',
        error: expect.stringContaining('unreachable'),
      }),
    ]);
    expect(written.join('')).not.toContain('PRIVATE KEY');
  });
});

describe('a checkout server on the WeChat Pay sandbox, sent forged notifications', () => {
  let database: TestDatabase;
  let h: CheckoutHarness;
  const written: string[] = [];

  beforeAll(async () => {
    database = await STORAGES[0].open();
    h = await startHarness(database.db, {
      env: { WEAPP_PAYMENT_PROVIDER: 'wechatpay' },
      logger: createLogger({
        level: 'info',
        format: 'json',
        destination: { write: (line) => void written.push(line) },
      }),
    });
  });
  afterAll(async () => {
    await h?.close();
    await database?.dispose();
  });

  it('should take a notification signed with a freshly rotated certificate after a flood of forged serials, counting and logging the one download', async () => {
    const { token } = await h.login();
    const order = await h.createOrder(token);
    await h.pay(token, order.orderNo).expect(200);
    const { rows } = await h.services.database.query<{ bill_no: string }>(
      'SELECT bill_no FROM bills WHERE order_no = $1',
      [order.orderNo],
    );
    const billNo = rows[0].bill_no;

    for (let forged = 0; forged < 10; forged += 1) {
      const answer = await h.api
        .post('/api/wechatpay/notify')
        .set({ 'content-type': 'application/json', ...forgedHeaders(randomSerial()) })
        .send(
          envelope({
            algorithm: 'AEAD_AES_256_GCM',
            ciphertext: randomBytes(64).toString('base64'),
            nonce: 'abcdefghijkl',
          }),
        );
      expect(answer.status).toBe(401);
    }
    const rotated = await h.sandbox.post('/sandbox/wechatpay/certificates/rotate').send({}).expect(200);
    await h.sandbox.post(`/sandbox/wechatpay/transactions/${billNo}/settle`).send({ result: 'paid' }).expect(200);
    const deliveries = await eventually(
      async () =>
        (await h.sandbox.get(`/sandbox/wechatpay/transactions/${billNo}/deliveries`).expect(200)).body
          .deliveries as Array<{ status: number | null }>,
      (attempts) => attempts.length > 0 && attempts[0].status !== null,
    );
    expect(deliveries[0].status).toBe(204);
    expect((await h.status(token, order.orderNo)).status).toBe('paid');

    const metrics = (await h.api.get('/metrics').expect(200)).text;
    const downloads = (outcome: string) =>
      sample(metrics, 'checkout_upstream_request_duration_seconds_count', {
        upstream: 'wechatpay',
        operation: 'download_certificates',
        outcome,
      });
    expect(['ok', 'refused', 'unavailable', 'failed'].map(downloads)).toEqual([1, 0, 0, 0]);
    expect(logLines(written).filter((line) => line.operation === 'download_certificates')).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'WeChat Pay platform certificate learned',
        learned: expect.arrayContaining([rotated.body.serialNo]),
      }),
    ]);
  });
});
