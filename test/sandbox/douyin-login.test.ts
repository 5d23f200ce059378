import {
  createSandbox,
  DEFAULT_DOUYIN,
  DEFAULT_DOUYIN_APP_ID,
  DEFAULT_DOUYIN_SECRET,
  INJECTABLE_DOUYIN_LOGIN_ERRORS,
  type Sandbox,
} from '../../server/sandbox';
import {
  api,
  APP_ID,
  APP_SECRET,
  makeSandbox,
  MASTER_SECRET,
  TEST_SECRET,
  WECHAT_APPID,
  WECHAT_SECRET,
} from './helpers';

const DOUYIN_APPID = 'tt0123456789abcdef01';
const DOUYIN_SECRET = 'test-douyin-secret';
const EMPTY_DATA = { session_key: '', openid: '', anonymous_openid: '', unionid: '' };

interface Minted {
  code: string;
  anonymousCode: string;
  openid: string;
  anonymousOpenid: string;
}

describe('POST /api/apps/v2/jscode2session (Douyin)', () => {
  let sandbox: Sandbox;
  let clock: number;
  beforeEach(() => {
    clock = Date.UTC(2025, 5, 1, 12, 0, 0);
    sandbox = makeSandbox({
      now: () => clock,
      loginCodeTtlMs: 60_000,
      douyin: { appId: DOUYIN_APPID, secret: DOUYIN_SECRET },
    });
  });
  afterEach(() => sandbox.close());

  const mint = async (body: Record<string, unknown> = {}): Promise<Minted> => {
    const res = await api(sandbox).post('/sandbox/douyin/codes').send(body);
    expect(res.status).toBe(201);
    return res.body as Minted;
  };
  const exchange = (body: Record<string, unknown>) =>
    api(sandbox)
      .post('/api/apps/v2/jscode2session')
      .send({ appid: DOUYIN_APPID, secret: DOUYIN_SECRET, ...body });
  const expectError = (res: { status: number; body: Record<string, unknown> }, errNo: number, tips?: string) => {
    expect(res.status).toBe(200);
    expect(res.body.err_no).toBe(errNo);
    expect(typeof res.body.err_tips).toBe('string');
    if (tips !== undefined) expect(res.body.err_tips).toBe(tips);
    expect(res.body.data).toEqual(EMPTY_DATA);
  };

  it('should exchange code and anonymous_code for the Douyin success shape', async () => {
    const minted = await mint({ openid: '_000UserOpenid0001', unionid: 'union-0001' });
    expect(minted.openid).toBe('_000UserOpenid0001');
    expect(minted.code).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(minted.anonymousCode).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(minted.anonymousCode).not.toBe(minted.code);

    const res = await exchange({ code: minted.code, anonymous_code: minted.anonymousCode });
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/json');
    expect(Object.keys(res.body).sort()).toEqual(['data', 'err_no', 'err_tips', 'log_id']);
    expect(res.body).toMatchObject({ err_no: 0, err_tips: 'success' });
    expect(res.body.log_id).toMatch(/^\d{14}[0-9A-F]+$/);
    expect(res.body.data).toEqual({
      session_key: expect.stringMatching(/^[A-Za-z0-9+/]{22}==$/),
      openid: '_000UserOpenid0001',
      anonymous_openid: minted.anonymousOpenid,
      unionid: 'union-0001',
    });
    expect(res.body.data.anonymous_openid).toMatch(/^_000[A-Za-z0-9]{32}$/);
  });

  it('should mint distinct random Douyin-style openids and unionids when none is given', async () => {
    const a = await mint();
    const b = await mint();
    expect(a.openid).toMatch(/^_000[A-Za-z0-9]{32}$/);
    expect(a.openid).not.toBe(b.openid);
    const ra = await exchange({ code: a.code });
    const rb = await exchange({ code: b.code });
    expect(ra.body.data.openid).toBe(a.openid);
    expect(ra.body.data.unionid).not.toBe('');
    expect(ra.body.data.unionid).not.toBe(rb.body.data.unionid);
    expect(ra.body.data.session_key).not.toBe(rb.body.data.session_key);
  });

  it('should answer an empty anonymous_openid when only the code is given', async () => {
    const minted = await mint();
    const res = await exchange({ code: minted.code, anonymous_code: '' });
    expect(res.body.err_no).toBe(0);
    expect(res.body.data.openid).toBe(minted.openid);
    expect(res.body.data.anonymous_openid).toBe('');
  });

  it('should answer only the anonymous_openid (openid, session_key, unionid empty) for an anonymous_code alone', async () => {
    const minted = await mint();
    const res = await exchange({ anonymous_code: minted.anonymousCode });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ err_no: 0, err_tips: 'success' });
    expect(res.body.data).toEqual({
      session_key: '',
      openid: '',
      anonymous_openid: minted.anonymousOpenid,
      unionid: '',
    });
    // The code of the same tt.login is still good afterwards.
    expect((await exchange({ code: minted.code })).body.data.openid).toBe(minted.openid);
  });

  it('should accept each code once: a reused code is 40018, a reused anonymous_code 40019', async () => {
    const minted = await mint();
    expect((await exchange({ code: minted.code, anonymous_code: minted.anonymousCode })).body.err_no).toBe(0);
    expectError(await exchange({ code: minted.code }), 40018, 'bad code');
    expectError(await exchange({ anonymous_code: minted.anonymousCode }), 40019);
    const other = await mint();
    // A spent anonymous_code spoils the pair it is sent with, and that refusal spends nothing.
    expectError(await exchange({ code: other.code, anonymous_code: minted.anonymousCode }), 40019);
    expect((await exchange({ code: other.code })).body.data.openid).toBe(other.openid);
  });

  it('should answer 40018 / 40019 for unknown codes, and for a code sent as the other kind', async () => {
    expectError(await exchange({ code: 'nosuchcode' }), 40018, 'bad code');
    expectError(await exchange({ anonymous_code: 'nosuchcode' }), 40019);
    const minted = await mint();
    expectError(await exchange({ anonymous_code: minted.code }), 40019);
    expectError(await exchange({ code: minted.anonymousCode }), 40018);
    expect((await exchange({ code: minted.code })).body.err_no).toBe(0);
  });

  it('should let codes expire after loginCodeTtlMs', async () => {
    const early = await mint();
    const late = await mint();
    clock += 60_000;
    expect((await exchange({ code: early.code })).body.data.openid).toBe(early.openid);
    clock += 1;
    expectError(await exchange({ code: late.code }), 40018);
    expectError(await exchange({ anonymous_code: late.anonymousCode }), 40019);
  });

  it('should default the code lifetime to 5 minutes', async () => {
    const sandbox5 = makeSandbox({ now: () => clock, douyin: { appId: DOUYIN_APPID, secret: DOUYIN_SECRET } });
    try {
      const a = (await api(sandbox5).post('/sandbox/douyin/codes').send({})).body as Minted;
      const b = (await api(sandbox5).post('/sandbox/douyin/codes').send({})).body as Minted;
      const call = (code: string) =>
        api(sandbox5).post('/api/apps/v2/jscode2session').send({ appid: DOUYIN_APPID, secret: DOUYIN_SECRET, code });
      clock += 5 * 60 * 1000;
      expect((await call(a.code)).body.err_no).toBe(0);
      clock += 1;
      expect((await call(b.code)).body.err_no).toBe(40018);
    } finally {
      await sandbox5.close();
    }
  });

  it('should answer 40015 for another appid and 40017 for a wrong secret, without spending the code', async () => {
    const minted = await mint();
    expectError(await exchange({ appid: 'ttother', code: minted.code }), 40015, 'bad appid');
    expectError(await exchange({ secret: 'wrong', code: minted.code }), 40017, 'bad secret');
    // The WeChat credentials are not Douyin's.
    expectError(await exchange({ appid: WECHAT_APPID, secret: WECHAT_SECRET, code: minted.code }), 40015);
    expect((await exchange({ code: minted.code })).body.data.openid).toBe(minted.openid);
  });

  it('should answer 40014 when required parameters are missing or malformed', async () => {
    const minted = await mint();
    expectError(await exchange({}), 40014, 'bad params');
    expectError(await exchange({ code: '', anonymous_code: '' }), 40014);
    expectError(await exchange({ appid: undefined, code: minted.code }), 40014);
    expectError(await exchange({ secret: '', code: minted.code }), 40014);
    expectError(await exchange({ code: 12345 }), 40014);
    const notJson = await api(sandbox)
      .post('/api/apps/v2/jscode2session')
      .set('Content-Type', 'application/json')
      .send('{"appid":');
    expectError(notJson, 40014);
    expect((await exchange({ code: minted.code })).body.err_no).toBe(0);
  });

  it.each([...INJECTABLE_DOUYIN_LOGIN_ERRORS])(
    'should answer an injected err_no %i for both codes of the pair',
    async (errNo) => {
      const minted = await mint({ errNo });
      expectError(await exchange({ code: minted.code }), errNo);
      expectError(await exchange({ anonymous_code: minted.anonymousCode }), errNo);
      expectError(await exchange({ code: minted.code, anonymous_code: minted.anonymousCode }), errNo);
    },
  );

  it('should answer an injected err_no only `times` times, then behave normally', async () => {
    const minted = await mint({ errNo: -1, times: 2 });
    expectError(await exchange({ code: minted.code }), -1);
    expectError(await exchange({ code: minted.code }), -1);
    expect((await exchange({ code: minted.code })).body.data.openid).toBe(minted.openid);
    expectError(await exchange({ code: minted.code }), 40018);
  });

  it('should refuse a bad control request with 400', async () => {
    for (const body of [{ errNo: 40020 }, { errNo: 0 }, { openid: 'has spaces' }, { times: 0 }, { errcode: -1 }]) {
      const res = await api(sandbox).post('/sandbox/douyin/codes').send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('BAD_REQUEST');
    }
    const badJson = await api(sandbox).post('/sandbox/douyin/codes').set('Content-Type', 'application/json').send('{');
    expect(badJson.status).toBe(400);
  });

  it('should keep Douyin and WeChat codes apart', async () => {
    const wx = (await api(sandbox).post('/sandbox/wechat/codes').send({})).body as { code: string };
    expectError(await exchange({ code: wx.code }), 40018);
    const tt = await mint();
    const res = await api(sandbox)
      .get('/sns/jscode2session')
      .query({ appid: WECHAT_APPID, secret: WECHAT_SECRET, js_code: tt.code, grant_type: 'authorization_code' });
    expect(res.body.errcode).toBe(40029);
  });
});

describe('SandboxOptions.douyin', () => {
  it('should default to the exported development credentials', async () => {
    expect(DEFAULT_DOUYIN).toEqual({ appId: 'ttsandbox00000001', secret: 'sandbox-douyin-secret' });
    expect(DEFAULT_DOUYIN_APP_ID).toBe(DEFAULT_DOUYIN.appId);
    expect(DEFAULT_DOUYIN_SECRET).toBe(DEFAULT_DOUYIN.secret);
    // Exactly how server/services.ts calls it before it passes `douyin`.
    const sandbox = createSandbox({
      gateway: { appId: APP_ID, appSecret: APP_SECRET, masterSecret: MASTER_SECRET, testSecret: TEST_SECRET },
      wechat: { appId: WECHAT_APPID, secret: WECHAT_SECRET },
      webhookTimeScale: 0.001,
    });
    try {
      const minted = (await api(sandbox).post('/sandbox/douyin/codes').send({})).body as Minted;
      const res = await api(sandbox)
        .post('/api/apps/v2/jscode2session')
        .send({ appid: 'ttsandbox00000001', secret: 'sandbox-douyin-secret', code: minted.code });
      expect(res.body).toMatchObject({ err_no: 0, data: { openid: minted.openid } });
    } finally {
      await sandbox.close();
    }
  });

  it('should refuse the default credentials when others are configured', async () => {
    const sandbox = makeSandbox({ douyin: { appId: DOUYIN_APPID, secret: DOUYIN_SECRET } });
    try {
      const minted = (await api(sandbox).post('/sandbox/douyin/codes').send({})).body as Minted;
      const res = await api(sandbox)
        .post('/api/apps/v2/jscode2session')
        .send({ appid: DEFAULT_DOUYIN_APP_ID, secret: DEFAULT_DOUYIN_SECRET, code: minted.code });
      expect(res.body.err_no).toBe(40015);
    } finally {
      await sandbox.close();
    }
  });
});
