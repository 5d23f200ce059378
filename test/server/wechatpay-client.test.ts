import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { WechatPayClient } from '../../server/adapters/payments/wechatpay/client';
import { WechatPayRefusal, WechatPayVerificationError } from '../../server/adapters/payments/wechatpay/errors';
import { fetchSandboxClientOptions } from '../../server/adapters/payments/wechatpay/sandbox-credentials';
import {
  NOTIFICATION_ACKNOWLEDGED,
  notificationRefusal,
  readNotification,
  type WechatPayNotification,
} from '../../server/adapters/payments/wechatpay/notification';
import type { WechatPaySandboxKeys } from '../../server/sandbox/wechatpay';
import {
  eachTestWechatPaySandbox,
  listenSandbox,
  newOutTradeNo,
  opensslSign,
  opensslVerify,
  sandboxClient as clientOf,
  sharedKeys,
  startNotifyReceiver,
  waitUntil,
  type ListeningSandbox,
  type NotifyReceiver,
} from '../support/wechatpay';
import { failure } from '../support/failure';

/*
 * Our WeChat Pay APIv3 client against the sandbox over real HTTP: requests signed, every answer
 * verified by the serial it carries, platform certificates downloaded and re-downloaded on an
 * unknown serial, the 微信支付公钥 mode, and notifications verified and decrypted.
 */

const prepayInput = (outTradeNo: string, notifyUrl: string, amount = 100) => ({
  outTradeNo,
  description: 'Coffee',
  amount,
  openid: 'oTestOpenid000000000000000001',
  notifyUrl,
  expiresAt: Date.now() + 15 * 60 * 1000,
});

describe('WechatPayClient against the sandbox', () => {
  let keys: WechatPaySandboxKeys;
  let running: ListeningSandbox;
  let receiver: NotifyReceiver;

  eachTestWechatPaySandbox((fixture) => {
    ({ keys, running, receiver } = fixture);
  });

  it('should prepay, sign requestPayment, query, close and refund, downloading the platform certificate once', async () => {
    const client = clientOf(running.url, keys);
    const outTradeNo = newOutTradeNo();
    const { prepayId } = await client.prepayJsapi({
      ...prepayInput(outTradeNo, receiver.url, 1999),
      attach: 'order-1',
    });
    expect(prepayId).toMatch(/^wx/);

    const fields = client.requestPayment(prepayId);
    expect(fields).toMatchObject({ package: `prepay_id=${prepayId}`, signType: 'RSA' });
    expect(
      opensslVerify(
        `${keys.appid}\n${fields.timeStamp}\n${fields.nonceStr}\n${fields.package}\n`,
        fields.paySign,
        keys.merchantPublicKey,
      ),
    ).toBe(true);

    expect(await client.queryTransaction(outTradeNo)).toMatchObject({ outTradeNo, tradeState: 'NOTPAY' });
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid', notify: false })
      .expect(200);
    const paid = await client.queryTransaction(outTradeNo);
    expect(paid).toMatchObject({
      tradeState: 'SUCCESS',
      attach: 'order-1',
      amount: { total: 1999, payerTotal: 1999, currency: 'CNY' },
    });
    expect(paid?.transactionId).toMatch(/^\d{28}$/);

    const refund = await client.createRefund({ outTradeNo, outRefundNo: `${outTradeNo}R`, refund: 999, total: 1999 });
    expect(refund).toMatchObject({
      outRefundNo: `${outTradeNo}R`,
      status: 'PROCESSING',
      amount: { refund: 999, total: 1999 },
    });
    await waitUntil(
      async () => (await client.queryRefund(`${outTradeNo}R`))?.status === 'SUCCESS',
      5000,
      'the refund to succeed',
    );

    const unpaid = newOutTradeNo();
    await client.prepayJsapi(prepayInput(unpaid, receiver.url));
    await client.closeTransaction(unpaid);
    expect((await client.queryTransaction(unpaid))?.tradeState).toBe('CLOSED');

    expect(await client.queryTransaction('NOSUCH0000001')).toBeNull();
    expect(await client.queryRefund('NOSUCH0000001R')).toBeNull();
    expect(client.platformKeys.downloads).toBe(1);
  });

  it('should take its development credentials from GET /sandbox/wechatpay/keys and work in either mode', async () => {
    const client = new WechatPayClient(await fetchSandboxClientOptions(running.url));
    const outTradeNo = newOutTradeNo();
    await client.prepayJsapi(prepayInput(outTradeNo, receiver.url));
    await request(running.url).post('/sandbox/wechatpay/mode').send({ mode: 'public_key' }).expect(200);
    expect((await client.queryTransaction(outTradeNo))?.tradeState).toBe('NOTPAY');
  });

  it('should surface a verified refusal as WechatPayRefusal with WeChat code', async () => {
    const client = clientOf(running.url, keys);
    const outTradeNo = newOutTradeNo();
    await client.prepayJsapi(prepayInput(outTradeNo, receiver.url, 100));
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid', notify: false })
      .expect(200);
    const refused = await failure(
      client.createRefund({ outTradeNo, outRefundNo: `${outTradeNo}R`, refund: 101, total: 100 }),
    );
    expect(WechatPayRefusal.is(refused)).toBe(true);
    expect(refused).toMatchObject({ status: 400, code: 'INVALID_REQUEST' });
    const closePaid = await failure(client.closeTransaction(outTradeNo));
    expect(closePaid).toMatchObject({ status: 400, code: 'ORDERPAID' });
  });

  it('should report SIGN_ERROR when the merchant key is not the one WeChat holds', async () => {
    // With the public key, the refusal itself verifies.
    await request(running.url).post('/sandbox/wechatpay/mode').send({ mode: 'public_key' }).expect(200);
    const publicKeyClient = clientOf(running.url, keys, {
      merchantPrivateKey: keys.platformPrivateKey,
      platformPublicKey: { id: keys.platformPublicKeyId, pem: keys.platformPublicKey },
    });
    const refused = await failure(publicKeyClient.prepayJsapi(prepayInput(newOutTradeNo(), receiver.url)));
    expect(WechatPayRefusal.is(refused)).toBe(true);
    expect(refused).toMatchObject({ status: 401, code: 'SIGN_ERROR' });

    // With certificates only, nothing can verify it (the download is refused too): unknown outcome, named cause.
    await request(running.url).post('/sandbox/wechatpay/mode').send({ mode: 'certificate' }).expect(200);
    const certificateClient = clientOf(running.url, keys, { merchantPrivateKey: keys.platformPrivateKey });
    const unverified = await failure(certificateClient.prepayJsapi(prepayInput(newOutTradeNo(), receiver.url)));
    expect(unverified).toMatchObject({ reason: 'NO_CERTIFICATES', message: expect.stringContaining('SIGN_ERROR') });
  });

  it('should re-download /v3/certificates when a rotated certificate signs, without a restart', async () => {
    const client = clientOf(running.url, keys);
    await client.prepayJsapi(prepayInput(newOutTradeNo(), receiver.url));
    expect(client.platformKeys.downloads).toBe(1);
    const rotated = await request(running.url).post('/sandbox/wechatpay/certificates/rotate').send({}).expect(200);
    // The download limit (60 s by default) has not passed; a client whose limit has passed re-downloads.
    const patient = clientOf(running.url, keys, { certificateDownloadIntervalMs: 0 });
    await patient.prepayJsapi(prepayInput(newOutTradeNo(), receiver.url));
    expect(patient.platformKeys.certificateSerials().sort()).toEqual([...rotated.body.served].sort());

    const refused = await failure(client.prepayJsapi(prepayInput(newOutTradeNo(), receiver.url)));
    expect(refused).toMatchObject({ reason: 'UNKNOWN_SERIAL' });
    expect(client.platformKeys.downloads).toBe(1);
  });

  it('should download at most once per interval however many answers carry an unknown serial, then pick the new one up', async () => {
    let clock = Date.now();
    const client = clientOf(running.url, keys, { now: () => clock, certificateDownloadIntervalMs: 60_000 });
    await client.prepayJsapi(prepayInput(newOutTradeNo(), receiver.url));
    const rotated = await request(running.url).post('/sandbox/wechatpay/certificates/rotate').send({}).expect(200);
    const attempts = await Promise.all(
      Array.from({ length: 5 }, () => failure(client.prepayJsapi(prepayInput(newOutTradeNo(), receiver.url)))),
    );
    for (const attempt of attempts)
      expect(WechatPayVerificationError.is(attempt) && attempt.reason).toBe('UNKNOWN_SERIAL');
    expect(client.platformKeys.downloads).toBe(1);

    clock += 60_000;
    const after = await Promise.all(
      Array.from({ length: 3 }, () => client.prepayJsapi(prepayInput(newOutTradeNo(), receiver.url))),
    );
    expect(after).toHaveLength(3);
    expect(client.platformKeys.downloads).toBe(2);
    expect(client.platformKeys.certificateSerials()).toContain(rotated.body.serialNo);
  });

  it('should work with the 微信支付公钥 alone, never asking for certificates', async () => {
    await request(running.url).post('/sandbox/wechatpay/mode').send({ mode: 'public_key' }).expect(200);
    const client = clientOf(running.url, keys, {
      platformCertificates: false,
      platformPublicKey: { id: keys.platformPublicKeyId, pem: keys.platformPublicKey },
    });
    const outTradeNo = newOutTradeNo();
    await client.prepayJsapi(prepayInput(outTradeNo, receiver.url));
    expect((await client.queryTransaction(outTradeNo))?.tradeState).toBe('NOTPAY');
    expect(client.platformKeys.downloads).toBe(0);
  });

  it('should name its 微信支付公钥 in Wechatpay-Serial, so that answers are signed with it before notifications move', async () => {
    // Certificate mode: WeChat still signs notifications with a certificate, but answers a
    // request naming the public key id with that key.
    const client = clientOf(running.url, keys, {
      platformCertificates: false,
      platformPublicKey: { id: keys.platformPublicKeyId, pem: keys.platformPublicKey },
    });
    const outTradeNo = newOutTradeNo();
    await client.prepayJsapi(prepayInput(outTradeNo, receiver.url));
    expect((await client.queryTransaction(outTradeNo))?.tradeState).toBe('NOTPAY');
    expect(client.platformKeys.downloads).toBe(0);

    // A client naming no public key gets the certificate, as a merchant before the switch does.
    const unmigrated = clientOf(running.url, keys);
    expect((await unmigrated.queryTransaction(outTradeNo))?.tradeState).toBe('NOTPAY');
    expect(unmigrated.platformKeys.downloads).toBe(1);
  });

  it('should keep working for a merchant mid-migration, whichever key signs each answer and notification', async () => {
    const client = clientOf(running.url, keys, {
      platformPublicKey: { id: keys.platformPublicKeyId, pem: keys.platformPublicKey },
    });
    const seen: unknown[] = [];
    const endpoint = await startNotifyReceiver(async (_hit, { headers, body }) => {
      seen.push(await client.readNotification({ headers, body }));
      return { status: 204 };
    });
    try {
      for (const mode of ['public_key', 'certificate']) {
        await request(running.url).post('/sandbox/wechatpay/mode').send({ mode }).expect(200);
        const outTradeNo = newOutTradeNo();
        await client.prepayJsapi(prepayInput(outTradeNo, endpoint.url));
        expect((await client.queryTransaction(outTradeNo))?.outTradeNo).toBe(outTradeNo);
        await request(running.url)
          .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
          .send({ result: 'paid' })
          .expect(200);
        await waitUntil(() => seen.length === (mode === 'public_key' ? 1 : 2), 5000, `notification in ${mode} mode`);
      }
      // Answers named the public key; only the certificate-signed notification needed a download.
      expect(client.platformKeys.downloads).toBe(1);
    } finally {
      await endpoint.close();
    }
  });

  it('should refuse an answer changed on the way (BAD_SIGNATURE), leaving the outcome unknown', async () => {
    const tamper = http.createServer((incoming, outgoing) => {
      const forward = http.request(
        new URL(incoming.url ?? '/', running.url),
        { method: incoming.method, headers: incoming.headers },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8').replace('NOTPAY', 'SUCCESS');
            const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(text)) };
            outgoing.writeHead(answer.statusCode ?? 502, headers);
            outgoing.end(text);
          });
        },
      );
      incoming.pipe(forward);
    });
    await new Promise<void>((resolve) => tamper.listen(0, '127.0.0.1', resolve));
    try {
      const direct = clientOf(running.url, keys);
      const outTradeNo = newOutTradeNo();
      await direct.prepayJsapi(prepayInput(outTradeNo, receiver.url));
      const viaTamper = clientOf(`http://127.0.0.1:${(tamper.address() as AddressInfo).port}`, keys);
      expect(await failure(viaTamper.queryTransaction(outTradeNo))).toMatchObject({ reason: 'BAD_SIGNATURE' });
    } finally {
      tamper.closeAllConnections();
      await new Promise<void>((resolve) => tamper.close(() => resolve()));
    }
  });
});

describe('WeChat Pay notifications read by the adapter', () => {
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

  /** A notify_url handler as the later route will be: verify, decrypt, answer 204 or FAIL. */
  async function merchantEndpoint(client: WechatPayClient, seen: (WechatPayNotification | unknown)[]) {
    return startNotifyReceiver(async (_hit, { headers, body }) => {
      try {
        seen.push(await client.readNotification({ headers, body }));
        return { status: NOTIFICATION_ACKNOWLEDGED.status };
      } catch (error) {
        seen.push(error);
        const refusal = notificationRefusal(error);
        return { status: refusal.status, body: JSON.stringify(refusal.body) };
      }
    });
  }

  it('should read TRANSACTION.SUCCESS, REFUND.SUCCESS and REFUND.ABNORMAL into the typed result', async () => {
    const client = clientOf(running.url, keys);
    const seen: unknown[] = [];
    receiver = await merchantEndpoint(client, seen);
    const outTradeNo = newOutTradeNo();
    await client.prepayJsapi(prepayInput(outTradeNo, receiver.url, 2500));
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid' })
      .expect(200);
    await waitUntil(() => seen.length === 1, 5000, 'TRANSACTION.SUCCESS');
    expect(seen[0]).toMatchObject({
      kind: 'transaction_succeeded',
      transaction: {
        outTradeNo,
        tradeState: 'SUCCESS',
        amount: { total: 2500, payerTotal: 2500 },
        payerOpenid: 'oTestOpenid000000000000000001',
      },
    });

    await client.createRefund({
      outTradeNo,
      outRefundNo: `${outTradeNo}S`,
      refund: 500,
      total: 2500,
      notifyUrl: receiver.url,
    });
    await waitUntil(() => seen.length === 2, 5000, 'REFUND.SUCCESS');
    expect(seen[1]).toMatchObject({
      kind: 'refund_succeeded',
      refund: { outRefundNo: `${outTradeNo}S`, status: 'SUCCESS', amount: { refund: 500, total: 2500 } },
    });

    await request(running.url).post('/sandbox/wechatpay/refunds/hold').send({}).expect(201);
    await client.createRefund({
      outTradeNo,
      outRefundNo: `${outTradeNo}A`,
      refund: 700,
      total: 2500,
      notifyUrl: receiver.url,
    });
    await request(running.url)
      .post(`/sandbox/wechatpay/refunds/${outTradeNo}A/settle`)
      .send({ result: 'abnormal' })
      .expect(200);
    await waitUntil(() => seen.length === 3, 5000, 'REFUND.ABNORMAL');
    expect(seen[2]).toMatchObject({
      kind: 'refund_failed',
      refund: { outRefundNo: `${outTradeNo}A`, status: 'ABNORMAL' },
    });

    const deliveries = (await request(running.url).get(`/sandbox/wechatpay/transactions/${outTradeNo}/deliveries`)).body
      .deliveries;
    expect(deliveries).toEqual([expect.objectContaining({ status: 204, ok: true })]);
  });

  it('should refuse a notification it cannot decrypt with 500 FAIL, which WeChat retries', async () => {
    // In public-key mode the wrong APIv3 key shows only when decrypting (with certificates the
    // download would already fail to decrypt).
    await request(running.url).post('/sandbox/wechatpay/mode').send({ mode: 'public_key' }).expect(200);
    const wrongKey = clientOf(running.url, keys, {
      apiV3Key: 'ffffffffffffffffffffffffffffffff',
      platformCertificates: false,
      platformPublicKey: { id: keys.platformPublicKeyId, pem: keys.platformPublicKey },
    });
    const seen: unknown[] = [];
    receiver = await merchantEndpoint(wrongKey, seen);
    const outTradeNo = newOutTradeNo();
    await wrongKey.prepayJsapi(prepayInput(outTradeNo, receiver.url));
    await request(running.url)
      .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
      .send({ result: 'paid' })
      .expect(200);
    await waitUntil(() => seen.length >= 2, 5000, 'a retry');
    expect(seen[0]).toMatchObject({ reason: 'BAD_CIPHERTEXT' });
    const deliveries = (await request(running.url).get(`/sandbox/wechatpay/transactions/${outTradeNo}/deliveries`)).body
      .deliveries;
    expect(deliveries[0]).toMatchObject({ status: 500, ok: false });
    expect(JSON.parse(deliveries[0].body)).toEqual({
      code: 'FAIL',
      message: expect.stringContaining('BAD_CIPHERTEXT'),
    });
  });

  describe('readNotification with messages made outside the sandbox', () => {
    let certificate: { serialNo: string; privateKeyPem: string; publicKey: import('node:crypto').KeyObject };
    const nowMs = () => Date.now();

    beforeAll(() => {
      const current = keys.certificates[keys.certificates.length - 1];
      certificate = {
        serialNo: current.serialNo,
        privateKeyPem: current.privateKeyPem,
        publicKey: new X509Certificate(current.certificatePem).publicKey,
      };
    });

    const keyFor = async (serial: string) => {
      if (serial !== certificate.serialNo) throw new WechatPayVerificationError('UNKNOWN_SERIAL', serial);
      return certificate.publicKey;
    };

    /** A real notification body from the sandbox, captured by a listener that only records it. */
    async function capturedNotification(): Promise<{ headers: Record<string, string>; body: string }> {
      receiver = await startNotifyReceiver();
      const client = clientOf(running.url, keys);
      const outTradeNo = newOutTradeNo();
      await client.prepayJsapi(prepayInput(outTradeNo, receiver.url));
      await request(running.url)
        .post(`/sandbox/wechatpay/transactions/${outTradeNo}/settle`)
        .send({ result: 'paid' })
        .expect(200);
      await waitUntil(() => receiver!.hits.length === 1, 5000, 'the notification');
      return { headers: receiver.hits[0].headers as Record<string, string>, body: receiver.hits[0].body };
    }

    /** Headers for `body`, signed by openssl with the platform certificate's key. */
    function signed(body: string, timestamp = Math.floor(nowMs() / 1000), serial = certificate.serialNo) {
      const nonce = 'abcdefghijklmnopqrstuvwxyz012345';
      return {
        'wechatpay-timestamp': String(timestamp),
        'wechatpay-nonce': nonce,
        'wechatpay-serial': serial,
        'wechatpay-signature': opensslSign(`${timestamp}\n${nonce}\n${body}\n`, certificate.privateKeyPem),
      };
    }

    const context = { keyFor, apiV3Key: '', mchid: '', appid: '' };
    const read = (headers: Record<string, string>, body: string, mchid?: string) =>
      readNotification(
        { headers, body },
        { ...context, apiV3Key: keys.apiV3Key, mchid: mchid ?? keys.mchid, appid: keys.appid },
      );

    it("should accept the captured notification and one openssl re-signed, and call another merchant's not ours", async () => {
      const captured = await capturedNotification();
      expect((await read(captured.headers, captured.body)).kind).toBe('transaction_succeeded');
      expect((await read(signed(captured.body), captured.body)).kind).toBe('transaction_succeeded');
      expect(await read(signed(captured.body), captured.body, '1900000001')).toMatchObject({ kind: 'not_ours' });
    });

    it('should refuse tampered ciphertext, a wrong tag, a wrong signature, a stale timestamp and an unknown serial', async () => {
      const captured = await capturedNotification();
      const message = JSON.parse(captured.body);
      const sealed = Buffer.from(message.resource.ciphertext, 'base64');
      const withCiphertext = (bytes: Buffer) =>
        JSON.stringify({ ...message, resource: { ...message.resource, ciphertext: bytes.toString('base64') } });
      const tamperedBody = withCiphertext(Buffer.concat([Buffer.from([sealed[0] ^ 1]), sealed.subarray(1)]));
      const wrongTagBody = withCiphertext(
        Buffer.concat([sealed.subarray(0, -1), Buffer.from([sealed[sealed.length - 1] ^ 1])]),
      );
      const cases: [string, Promise<unknown>][] = [
        ['BAD_CIPHERTEXT', read(signed(tamperedBody), tamperedBody)],
        ['BAD_CIPHERTEXT', read(signed(wrongTagBody), wrongTagBody)],
        ['BAD_SIGNATURE', read(captured.headers, tamperedBody)],
        ['STALE_TIMESTAMP', read(signed(captured.body, Math.floor(nowMs() / 1000) - 301), captured.body)],
        [
          'UNKNOWN_SERIAL',
          read(signed(captured.body, undefined, '7D2A1B3C4D5E6F708192A3B4C5D6E7F801234567'), captured.body),
        ],
        ['BAD_BODY', read(signed('{"id":1}'), '{"id":1}')],
      ];
      for (const [expected, attempt] of cases) {
        const error = await failure(attempt);
        expect(WechatPayVerificationError.is(error) && error.reason).toBe(expected);
        const refusal = notificationRefusal(error);
        expect(refusal.body).toEqual({ code: 'FAIL', message: expect.stringContaining(expected) });
        expect(refusal.status).toBeGreaterThanOrEqual(400);
      }
    });
  });
});
