import { generateKeyPairSync } from 'node:crypto';
import { PlatformKeys, type PlatformCertificate } from '../../server/adapters/payments/wechatpay/platform-keys';

/**
 * How often the platform certificates are downloaded when a notification names a serial we do not
 * hold: at most once a minute after a download that answered, but a download that failed learned
 * nothing, so the next may come after a few seconds (WeChat Pay resends a notification 15 s later).
 */
describe('PlatformKeys downloads', () => {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let clock = Date.UTC(2026, 11, 1);
  const certificate = (serialNo: string): PlatformCertificate => ({
    serialNo,
    publicKey,
    validFrom: clock - 1000,
    validTo: clock + 365 * 24 * 3600 * 1000,
    pem: '',
  });

  function keysWith(answers: Array<() => PlatformCertificate[]>) {
    let calls = 0;
    const keys = new PlatformKeys({
      download: async () => {
        const answer = answers[Math.min(calls, answers.length - 1)];
        calls += 1;
        return answer();
      },
      now: () => clock,
    });
    return { keys, calls: () => calls };
  }

  const unreachable = () => {
    throw new Error('connect ECONNREFUSED');
  };

  it('should try again 5 s after a failed download, not a minute later', async () => {
    const { keys, calls } = keysWith([unreachable, () => [certificate('5157F09EFDC096DE15EBE81A47057A7232F1B8E1')]]);
    await expect(keys.keyFor('5157F09EFDC096DE15EBE81A47057A7232F1B8E1')).rejects.toThrow(/ECONNREFUSED/);
    clock += 4_000;
    await expect(keys.keyFor('5157F09EFDC096DE15EBE81A47057A7232F1B8E1')).rejects.toMatchObject({
      reason: 'UNKNOWN_SERIAL',
    });
    expect(calls()).toBe(1);
    clock += 1_000;
    await expect(keys.keyFor('5157F09EFDC096DE15EBE81A47057A7232F1B8E1')).resolves.toBe(publicKey);
    expect(calls()).toBe(2);
  });

  it('should keep a minute between downloads that answered', async () => {
    const { keys, calls } = keysWith([() => [certificate('AAAA')]]);
    await expect(keys.keyFor('BBBB')).rejects.toMatchObject({ reason: 'UNKNOWN_SERIAL' });
    clock += 5_000;
    await expect(keys.keyFor('BBBB')).rejects.toMatchObject({ reason: 'UNKNOWN_SERIAL' });
    expect(calls()).toBe(1);
    clock += 55_000;
    await expect(keys.keyFor('BBBB')).rejects.toMatchObject({ reason: 'UNKNOWN_SERIAL' });
    expect(calls()).toBe(2);
  });
});
