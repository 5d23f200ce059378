import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { decryptResource } from '../../server/adapters/payments/wechatpay/aead';
import { WechatPayVerificationError } from '../../server/adapters/payments/wechatpay/errors';
import {
  authorizationHeader,
  requestPaymentFields,
  verifySignedMessage,
} from '../../server/adapters/payments/wechatpay/signing';
import { opensslSign, opensslVerify } from '../support/wechatpay';

/*
 * The adapter's signatures and decryption checked against values computed outside our code:
 * RSA-SHA256 by the `openssl` CLI, AEAD_AES_256_GCM by a fixed vector made with Python's
 * `cryptography` package (AESGCM), whose inputs are written out below.
 */

const merchant = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const platform = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const PLATFORM_SERIAL = 'PUB_KEY_ID_0112300001092024000000000000000001';
const platformKey = async (serial: string) => {
  if (serial !== PLATFORM_SERIAL) throw new WechatPayVerificationError('UNKNOWN_SERIAL', serial);
  return createPublicKey(platform.publicKey);
};

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (WechatPayVerificationError.is(error)) return error.reason;
    throw error;
  }
  return 'accepted';
}

describe('authorizationHeader', () => {
  it('should sign METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n so that openssl verifies it with the merchant public key', () => {
    const body = '{"mchid":"1230000109","appid":"wx0123456789abcdef"}';
    const header = authorizationHeader(
      {
        mchid: '1230000109',
        serialNo: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
        privateKey: createPrivateKey(merchant.privateKey),
      },
      { method: 'POST', pathWithQuery: '/v3/pay/transactions/jsapi', body },
      { timestamp: 1554208460, nonce: '593BEC0C930BF1AFEB40B4A08C8FB242' },
    );
    expect(header).toMatch(/^WECHATPAY2-SHA256-RSA2048 /);
    const fields = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    expect(fields).toMatchObject({
      mchid: '1230000109',
      serial_no: '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C',
      timestamp: '1554208460',
      nonce_str: '593BEC0C930BF1AFEB40B4A08C8FB242',
    });
    const message = `POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n${body}\n`;
    expect(opensslVerify(message, fields.signature, merchant.publicKey)).toBe(true);
    expect(opensslVerify(message.replace('POST', 'GET'), fields.signature, merchant.publicKey)).toBe(false);
    // PKCS#1 v1.5 is deterministic: openssl's own signature of the same text is the same bytes.
    expect(fields.signature).toBe(opensslSign(message, merchant.privateKey));
  });
});

describe('requestPaymentFields', () => {
  it('should give signType RSA and a paySign over appId\\ntimeStamp\\nnonceStr\\npackage\\n that openssl verifies', () => {
    const fields = requestPaymentFields(
      'wx0123456789abcdef',
      'wx201410272009395522657a690389285100',
      createPrivateKey(merchant.privateKey),
      {
        timestamp: 1414561699,
        nonce: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      },
    );
    expect(fields).toMatchObject({
      timeStamp: '1414561699',
      nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
      package: 'prepay_id=wx201410272009395522657a690389285100',
      signType: 'RSA',
    });
    const message =
      'wx0123456789abcdef\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n';
    expect(fields.paySign).toBe(opensslSign(message, merchant.privateKey));
  });
});

describe('verifySignedMessage', () => {
  const body = '{"prepay_id":"wx26112221580621e9b071c00d9e093b0000"}';
  const now = 1_700_000_000_000;
  const signedBy = (key: string, timestamp: number, nonce = 'n0nce') => ({
    'Wechatpay-Timestamp': String(timestamp),
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Serial': PLATFORM_SERIAL,
    'Wechatpay-Signature': opensslSign(`${timestamp}\n${nonce}\n${body}\n`, key),
  });

  it('should accept an answer openssl signed with the key its serial names', async () => {
    const headers = signedBy(platform.privateKey, now / 1000 - 10);
    await expect(verifySignedMessage(headers, body, platformKey, { now: () => now })).resolves.toMatchObject({
      serial: PLATFORM_SERIAL,
    });
  });

  it('should refuse a wrong signature, a changed body, a stale timestamp, an unknown serial and missing headers', async () => {
    const options = { now: () => now };
    expect(
      await reason(verifySignedMessage(signedBy(merchant.privateKey, now / 1000), body, platformKey, options)),
    ).toBe('BAD_SIGNATURE');
    expect(
      await reason(verifySignedMessage(signedBy(platform.privateKey, now / 1000), `${body} `, platformKey, options)),
    ).toBe('BAD_SIGNATURE');
    expect(
      await reason(verifySignedMessage(signedBy(platform.privateKey, now / 1000 - 301), body, platformKey, options)),
    ).toBe('STALE_TIMESTAMP');
    expect(
      await reason(verifySignedMessage(signedBy(platform.privateKey, now / 1000 + 301), body, platformKey, options)),
    ).toBe('STALE_TIMESTAMP');
    const unknown = {
      ...signedBy(platform.privateKey, now / 1000),
      'Wechatpay-Serial': '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
    };
    expect(await reason(verifySignedMessage(unknown, body, platformKey, options))).toBe('UNKNOWN_SERIAL');
    const { 'Wechatpay-Signature': _dropped, ...unsigned } = signedBy(platform.privateKey, now / 1000);
    expect(await reason(verifySignedMessage(unsigned, body, platformKey, options))).toBe('MISSING_HEADERS');
  });

  it('should check the timestamp before looking the serial up, so a replayed message costs no key download', async () => {
    const lookups: string[] = [];
    const counting = async (serial: string) => {
      lookups.push(serial);
      return platformKey(serial);
    };
    expect(
      await reason(
        verifySignedMessage(signedBy(platform.privateKey, now / 1000 - 3600), body, counting, { now: () => now }),
      ),
    ).toBe('STALE_TIMESTAMP');
    expect(lookups).toEqual([]);
  });
});

describe('decryptResource', () => {
  // AESGCM(b'0123456789abcdefghijklmnopqrstuv').encrypt(b'fixednonce12', PLAINTEXT, b'transaction'), base64.
  const VECTOR = {
    algorithm: 'AEAD_AES_256_GCM',
    nonce: 'fixednonce12',
    associated_data: 'transaction',
    ciphertext:
      'hXOtJwRCq+Yt3R9wSMPsgVyGIflZkN5M33wKn5LocbcrBZuK3vrdPOMFsGgCNOcq4il20+NYKTOtj/MJn8WwSxUqe1vUTA3f11gKQ/hAyLta2GagvN1pRii2SJE=',
  };
  const KEY = '0123456789abcdefghijklmnopqrstuv';
  const PLAINTEXT = '{"mchid":"1230000109","out_trade_no":"WXVECTOR0001","trade_state":"SUCCESS"}';

  it('should decrypt the fixed vector to its plaintext', () => {
    expect(decryptResource(VECTOR, KEY)).toBe(PLAINTEXT);
  });

  it('should refuse a tampered ciphertext, a wrong tag, other associated data, another key and another algorithm', () => {
    const sealed = Buffer.from(VECTOR.ciphertext, 'base64');
    const flip = (index: number) => {
      const copy = Buffer.from(sealed);
      copy[index] ^= 0x01;
      return copy.toString('base64');
    };
    const attempts = [
      { ...VECTOR, ciphertext: flip(3) },
      { ...VECTOR, ciphertext: flip(sealed.length - 1) },
      { ...VECTOR, ciphertext: sealed.subarray(0, sealed.length - 16).toString('base64') },
      { ...VECTOR, associated_data: 'refund' },
      { ...VECTOR, nonce: 'fixednonce13' },
      { ...VECTOR, algorithm: 'AEAD_AES_128_GCM' },
    ];
    for (const attempt of attempts) {
      expect(() => decryptResource(attempt, KEY)).toThrow(expect.objectContaining({ reason: 'BAD_CIPHERTEXT' }));
    }
    expect(() => decryptResource(VECTOR, 'vutsrqponmlkjihgfedcba9876543210')).toThrow(
      expect.objectContaining({ reason: 'BAD_CIPHERTEXT' }),
    );
  });
});
