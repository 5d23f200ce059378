import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEVELOPMENT_SECRETS } from '../../server/config';
import { buildMiniProgram, MiniProgramBuildPlatform } from '../support/build-miniprogram';

/**
 * Everything in a mini-program bundle is public: anyone can unpack it. Both bundles are built
 * with every server secret set, to distinctive values, in the build environment (as on a CI
 * machine that also deploys the server), and no file of either bundle may contain any of them,
 * nor the sandbox's development secrets.
 */
const DATABASE_PASSWORD = 'db-password-7e1c0f9b2a';

const SERVER_SECRETS: Record<string, string> = {
  GATEWAY_APP_SECRET: 'gateway-app-secret-5b8e2d71c4',
  GATEWAY_MASTER_SECRET: 'gateway-master-secret-93fa06e1d2',
  GATEWAY_TEST_SECRET: 'gateway-test-secret-2c7d41b9e8',
  WECHAT_SECRET: 'wechat-secret-8f3a61c0d7',
  DOUYIN_SECRET: 'douyin-secret-4e9b27a5f1',
  DOUYIN_PAY_SECRET: 'douyin-pay-secret-6d0c83e2b9',
  DATABASE_URL: `postgres://checkout:${DATABASE_PASSWORD}@db.internal.example:5432/checkout`,
};

const DEVELOPMENT_SECRET_VALUES = [
  DEVELOPMENT_SECRETS.gatewayAppSecret,
  DEVELOPMENT_SECRETS.gatewayMasterSecret,
  DEVELOPMENT_SECRETS.gatewayTestSecret,
  DEVELOPMENT_SECRETS.wechatSecret,
  DEVELOPMENT_SECRETS.douyinSecret,
  DEVELOPMENT_SECRETS.douyinPaySecret,
];

const API_BASE_URL = 'https://checkout-api.bundle-secrets.example';
const PLATFORMS: MiniProgramBuildPlatform[] = ['weapp', 'tt'];

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

describe('mini-program bundles and server secrets', () => {
  const distDirs = new Map<MiniProgramBuildPlatform, string>();

  beforeAll(async () => {
    const built = await Promise.all(
      PLATFORMS.map((platform) => buildMiniProgram(platform, API_BASE_URL, { extraEnv: SERVER_SECRETS })),
    );
    PLATFORMS.forEach((platform, index) => distDirs.set(platform, built[index]));
  }, 240_000);

  afterAll(() => {
    for (const distDir of distDirs.values()) rmSync(distDir, { recursive: true, force: true });
  });

  describe.each(PLATFORMS)('%s', (platform) => {
    const contentsOfBundle = () => {
      const distDir = distDirs.get(platform);
      if (!distDir) throw new Error(`no ${platform} build`);
      return filesUnder(distDir).map((file) => ({ file, text: readFileSync(file, 'utf8') }));
    };

    it('should bake in the API base URL, so the scan looks at a real build', () => {
      const withUrl = contentsOfBundle().filter(
        ({ file, text }) => file.endsWith('.js') && text.includes(API_BASE_URL),
      );
      expect(withUrl.length).toBeGreaterThan(0);
    });

    it.each([...Object.entries(SERVER_SECRETS), ['DATABASE_URL password', DATABASE_PASSWORD]])(
      'should not contain %s',
      (_name, secret) => {
        const leaking = contentsOfBundle()
          .filter(({ text }) => text.includes(secret))
          .map(({ file }) => file);
        expect(leaking).toEqual([]);
      },
    );

    it('should not contain any of the sandbox development secrets', () => {
      const leaking = contentsOfBundle().flatMap(({ file, text }) =>
        DEVELOPMENT_SECRET_VALUES.filter((secret) => text.includes(secret)).map((secret) => `${file}: ${secret}`),
      );
      expect(leaking).toEqual([]);
    });
  });
});
