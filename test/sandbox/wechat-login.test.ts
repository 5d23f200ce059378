import type { Sandbox } from '../../server/sandbox';
import { api, makeSandbox, WECHAT_APPID, WECHAT_SECRET } from './helpers';

describe('GET /sns/jscode2session', () => {
  let sandbox: Sandbox;
  let clock: number;
  beforeEach(() => {
    clock = Date.UTC(2025, 5, 1, 12, 0, 0);
    sandbox = makeSandbox({ now: () => clock, loginCodeTtlMs: 60_000 });
  });
  afterEach(() => sandbox.close());

  const mint = async (body: Record<string, unknown> = {}) => {
    const res = await api(sandbox).post('/sandbox/wechat/codes').send(body);
    expect(res.status).toBe(201);
    return res.body as { code: string; openid: string };
  };
  const exchange = (code: string, overrides: Record<string, string | undefined> = {}) => {
    const query: Record<string, string> = {};
    for (const [name, value] of Object.entries({
      appid: WECHAT_APPID,
      secret: WECHAT_SECRET,
      js_code: code,
      grant_type: 'authorization_code',
      ...overrides,
    })) {
      if (value !== undefined) query[name] = value;
    }
    return api(sandbox).get('/sns/jscode2session').query(query);
  };

  it('should exchange a minted code for the openid and a session_key, with no errcode', async () => {
    const { code, openid } = await mint({ openid: 'oUser000000000000000000000001' });
    expect(openid).toBe('oUser000000000000000000000001');
    const res = await exchange(code);
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/json');
    expect(res.body.openid).toBe(openid);
    expect(res.body.session_key).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(res.body.errcode).toBeUndefined();
    expect(res.body.unionid).toBeUndefined();
  });

  it('should mint a random 28-character openid starting with o when none is given', async () => {
    const a = await mint();
    const b = await mint();
    expect(a.openid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    expect(a.openid).not.toBe(b.openid);
    expect(a.code).not.toBe(b.code);
    expect((await exchange(a.code)).body.openid).toBe(a.openid);
  });

  it('should return the unionid when the code was minted with one', async () => {
    const { code } = await mint({ unionid: 'oUnion0000000000000000000001' });
    expect((await exchange(code)).body.unionid).toBe('oUnion0000000000000000000001');
  });

  it('should answer 40163 for a code used a second time', async () => {
    const { code } = await mint();
    expect((await exchange(code)).body.openid).toBeDefined();
    const again = await exchange(code);
    expect(again.status).toBe(200);
    expect(again.body.errcode).toBe(40163);
    expect(again.body.errmsg).toMatch(/^code been used/);
    expect(again.body.openid).toBeUndefined();
  });

  it('should answer 40029 for an unknown code and for an expired one', async () => {
    expect((await exchange('nosuchcode')).body.errcode).toBe(40029);
    const { code } = await mint();
    clock += 60_001;
    const expired = await exchange(code);
    expect(expired.body).toMatchObject({ errcode: 40029 });
    expect(expired.body.errmsg).toMatch(/^invalid code, rid: /);
  });

  it('should still accept a code just before it expires', async () => {
    const { code } = await mint();
    clock += 60_000;
    expect((await exchange(code)).body.openid).toBeDefined();
  });

  it('should answer 40013 for another appid and 40125 for a wrong secret', async () => {
    const { code } = await mint();
    expect((await exchange(code, { appid: 'wxother' })).body).toMatchObject({ errcode: 40013 });
    expect((await exchange(code, { secret: 'wrong' })).body).toMatchObject({ errcode: 40125 });
    // Refused calls do not spend the code.
    expect((await exchange(code)).body.openid).toBeDefined();
  });

  it('should answer WeChat missing-parameter errors', async () => {
    expect((await exchange('x', { appid: undefined })).body.errcode).toBe(41002);
    expect((await exchange('x', { secret: undefined })).body.errcode).toBe(41004);
    expect((await exchange('', {})).body.errcode).toBe(41008);
    expect((await exchange('x', { grant_type: 'client_credential' })).body.errcode).toBe(40002);
  });

  it.each([40029, 40163, 45011, 40226, -1])('should answer an injected errcode %i for that code', async (errcode) => {
    const { code } = await mint({ errcode });
    const res = await exchange(code);
    expect(res.status).toBe(200);
    expect(res.body.errcode).toBe(errcode);
    expect(typeof res.body.errmsg).toBe('string');
    expect(res.body.openid).toBeUndefined();
    expect((await exchange(code)).body.errcode).toBe(errcode);
  });

  it('should answer an injected error only `times` times, then behave normally', async () => {
    const { code, openid } = await mint({ errcode: -1, times: 1 });
    expect((await exchange(code)).body.errcode).toBe(-1);
    expect((await exchange(code)).body.openid).toBe(openid);
    expect((await exchange(code)).body.errcode).toBe(40163);
  });

  it('should answer 45011 after 100 exchanges for one user within a minute', async () => {
    const openid = 'oBusy0000000000000000000000001';
    for (let i = 0; i < 100; i += 1) {
      const { code } = await mint({ openid });
      expect((await exchange(code)).body.openid).toBe(openid);
    }
    const { code } = await mint({ openid });
    expect((await exchange(code)).body.errcode).toBe(45011);
    const other = await mint();
    expect((await exchange(other.code)).body.openid).toBe(other.openid);
    clock += 60_000;
    expect((await exchange(code)).body.openid).toBe(openid);
  });

  it('should refuse a bad control request with 400', async () => {
    const badErrcode = await api(sandbox).post('/sandbox/wechat/codes').send({ errcode: 40001 });
    expect(badErrcode.status).toBe(400);
    expect(badErrcode.body.error).toMatchObject({ code: 'BAD_REQUEST' });
    expect(badErrcode.body.error.message).toContain('errcode');
    const badJson = await api(sandbox).post('/sandbox/wechat/codes').set('Content-Type', 'application/json').send('{');
    expect(badJson.status).toBe(400);
    const badOpenid = await api(sandbox).post('/sandbox/wechat/codes').send({ openid: 'has spaces' });
    expect(badOpenid.status).toBe(400);
  });
});
