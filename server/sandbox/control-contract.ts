import type { ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { NODE_REFUSALS } from '../http/node-server';
import { errorAnswers, jsonAnswer, type ApiOperation } from '../openapi/operations';
import { INJECTABLE_DOUYIN_LOGIN_ERRORS } from './douyin/login';
import { INJECTABLE_LOGIN_ERRORS } from './wechat/login';

/**
 * The contract of the sandbox's control routes under `/sandbox/` (./control.ts, ./h5pay/pay-page.ts,
 * ./alipay/app-pay.ts): the zod schemas they validate requests with, those of their answers, and their
 * OpenAPI operations, which the checkout server's `GET /openapi.json` documents (tag `sandbox`)
 * while the sandbox runs. Times are sandbox-clock milliseconds; fees are fen.
 */

const identifier = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, _ or -');

export const mintCodeSchema = z
  .object({
    openid: identifier.optional(),
    unionid: identifier.optional(),
    errcode: z
      .number()
      .refine((value) => (INJECTABLE_LOGIN_ERRORS as readonly number[]).includes(value), {
        message: `errcode must be one of ${INJECTABLE_LOGIN_ERRORS.join(', ')}`,
      })
      .optional()
      .meta({ description: `What exchanging the code answers instead: one of ${INJECTABLE_LOGIN_ERRORS.join(', ')}.` }),
    times: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({ description: 'How many exchanges answer `errcode` (default: all).' }),
  })
  .strict()
  .meta({ id: 'SandboxWechatCodeRequest' });

export const mintDouyinCodeSchema = z
  .object({
    openid: identifier.optional(),
    unionid: identifier.optional(),
    errNo: z
      .number()
      .refine((value) => (INJECTABLE_DOUYIN_LOGIN_ERRORS as readonly number[]).includes(value), {
        message: `errNo must be one of ${INJECTABLE_DOUYIN_LOGIN_ERRORS.join(', ')}`,
      })
      .optional()
      .meta({
        description: `What exchanging the codes answers instead: one of ${INJECTABLE_DOUYIN_LOGIN_ERRORS.join(', ')}.`,
      }),
    times: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({ description: 'How many exchanges answer `errNo` (default: all).' }),
  })
  .strict()
  .meta({ id: 'SandboxDouyinCodeRequest' });

export const settleSchema = z
  .object({
    result: z.enum(['paid', 'failed', 'closed']),
    notify: z
      .boolean()
      .default(true)
      .meta({ description: '`false`: no PAY webhook now (send it later with `/notify`).' }),
  })
  .strict()
  .meta({ id: 'SandboxSettleRequest' });

/** The longest answer delay: ten minutes, beyond any client timeout worth testing. */
const MAX_DELAY_MS = 600_000;

export const faultSchema = z
  .object({
    result_code: z.union([z.literal(7), z.literal(14)]).optional(),
    delay_ms: z.number().int().min(1).max(MAX_DELAY_MS).optional(),
    count: z.number().int().positive().default(1),
    operation: z.enum(['bill', 'refund', 'query', 'any']).default('any'),
    err_detail: z.string().max(200).optional(),
    http_status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).optional(),
  })
  .strict()
  .refine(
    (fault) => fault.result_code !== undefined || fault.delay_ms !== undefined || fault.http_status !== undefined,
    {
      message:
        `give result_code (7 or 14), http_status (500, 502, 503 or 504), delay_ms (1 to ${MAX_DELAY_MS}), ` +
        'or a delay with one of the others',
    },
  )
  .refine((fault) => fault.result_code === undefined || fault.http_status === undefined, {
    message: 'result_code refuses before anything is done, http_status answers after it is done: give one of them',
    path: ['http_status'],
  })
  .refine((fault) => fault.err_detail === undefined || fault.result_code !== undefined, {
    message: 'err_detail is the detail of a refusal: give it with result_code',
    path: ['err_detail'],
  })
  .meta({
    id: 'SandboxFaultRequest',
    description:
      'Give `result_code` (a refusal before anything is done) or `http_status` (an error page after it is done), ' +
      'and/or `delay_ms`; `err_detail` only with `result_code`.',
  });

export const refundHoldSchema = z
  .object({ count: z.number().int().positive().max(10_000).default(1) })
  .strict()
  .meta({ id: 'SandboxRefundHoldRequest' });

/** The answer of a sandbox's `POST …/refunds/hold` (the gateway's and WeChat Pay's alike). */
export const refundHoldAnswer = jsonAnswer(
  'How many were added, and how many are now held.',
  z.strictObject({ hold: z.strictObject({ count: z.number().int(), pending: z.number().int() }) }),
);

/** The answer of a sandbox's `DELETE …/refunds/hold`. */
export const refundReleaseAnswer = jsonAnswer(
  'How many holds were dropped.',
  z.strictObject({ released: z.number().int() }),
);

export const refundSettleSchema = z
  .object({
    result: z.enum(['succeeded', 'failed']),
    refund_status: z
      .enum(['REFUNDCLOSE', 'CHANGE'])
      .optional()
      .meta({ description: 'Only with `failed` (default REFUNDCLOSE).' }),
  })
  .strict()
  .refine((input) => input.refund_status === undefined || input.result === 'failed', {
    message: 'refund_status is the failure status: give it only with result "failed"',
    path: ['refund_status'],
  })
  .meta({ id: 'SandboxRefundSettleRequest' });

/** `?bill_no=`: only that bill's bills or refunds (a repeated or missing one lists them all). */
export const billNoFilter = z.object({ bill_no: z.string().optional() });

/** The Alipay App leg's request (./alipay/app-pay.ts). */
export const alipayAppPaySchema = z
  .object({
    order_string: z
      .string("order_string is required (the ALI_APP bill's order_string)")
      .min(1, "order_string is required (the ALI_APP bill's order_string)"),
    action: z.enum(['pay', 'cancel'], 'action must be "pay" or "cancel"').default('pay'),
  })
  .meta({ id: 'SandboxAlipayAppPayRequest' });

/** The WeChat H5 cashier's form (./h5pay/pay-page.ts): form-encoded from its page, or JSON. */
export const h5PayFormSchema = z
  .object({
    bill_no: z.string().optional().meta({ description: 'A `BC_WX_WAP` bill (required: its absence is a 400 page).' }),
    action: z.enum(['pay', 'cancel'], 'action must be "pay" or "cancel"'),
    redirect_url: z
      .string()
      .optional()
      .meta({ description: 'An absolute http(s) URL the result page links back to; anything else is ignored.' }),
  })
  .meta({ id: 'SandboxH5PayForm' });

/** The cashier page's query (./h5pay/pay-page.ts). */
export const h5PayPageQuery = z.object({
  bill_no: z.string().optional(),
  redirect_url: z.string().optional(),
});

const billStatus = z.enum(['open', 'paid', 'failed', 'closed']);

/** A bill as the control routes show it. */
export const sandboxBillSchema = z
  .strictObject({
    bill_no: z.string(),
    channel: z.string(),
    total_fee: z.number().int(),
    status: billStatus,
    created_at: z.number().int(),
    title: z.string(),
    notify_url: z.string().nullable(),
    gateway_id: z.string(),
    mode: z.enum(['live', 'test']),
    refunded_fee: z.number().int(),
    deliveries: z.number().int().meta({ description: 'PAY webhook attempts so far.' }),
    openid: z.string().optional(),
    prepay_id: z.string().optional(),
    url: z.string().optional(),
    order_string: z.string().optional(),
    trade_no: z.string().optional(),
  })
  .meta({ id: 'SandboxBill' });
export type SandboxBillView = z.infer<typeof sandboxBillSchema>;

/** A refund as the control routes show it. */
export const sandboxRefundSchema = z
  .strictObject({
    refund_no: z.string(),
    bill_no: z.string(),
    refund_fee: z.number().int(),
    status: z.enum(['processing', 'succeeded', 'failed']),
    channel: z.string(),
    created_at: z.number().int(),
    finished_at: z.number().int().nullable(),
    deliveries: z.number().int().meta({ description: 'REFUND webhook attempts so far.' }),
  })
  .meta({ id: 'SandboxRefund' });
export type SandboxRefundView = z.infer<typeof sandboxRefundSchema>;

/** A pending injected fault. */
export const sandboxFaultSchema = z
  .strictObject({
    operation: z.enum(['bill', 'refund', 'query', 'any']),
    count: z.number().int(),
    result_code: z.number().int().optional(),
    err_detail: z.string().optional(),
    http_status: z.number().int().optional(),
    delay_ms: z.number().int().optional(),
  })
  .meta({ id: 'SandboxFault' });
export type SandboxFaultView = z.infer<typeof sandboxFaultSchema>;

const deliveries = z.strictObject({
  deliveries: z.array(
    z
      .strictObject({
        transaction_type: z.enum(['PAY', 'REFUND']),
        transaction_id: z.string(),
        chain: z.number().int(),
        attempt: z.number().int(),
        at: z.number().int(),
        status: z.number().int().nullable().meta({ description: 'null: no HTTP answer (refused, timed out, …).' }),
        body: z.string().meta({ description: 'The first 200 characters of the answer.' }),
        ok: z.boolean(),
      })
      .meta({ id: 'SandboxDelivery' }),
  ),
});

const alipayAppResult = z
  .strictObject({
    resultStatus: z
      .enum(['9000', '6001', '4000'])
      .meta({ description: '9000 paid, 6001 cancelled by the shopper, 4000 cannot be paid.' }),
    memo: z.string(),
    result: z.string().meta({ description: 'With 9000: the signed `alipay_trade_app_pay_response` JSON text.' }),
  })
  .meta({ id: 'SandboxAlipayAppResult' });

const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });

const tags = ['sandbox'];
const params = {
  bill: z.object({ bill_no: z.string() }),
  refund: z.object({ refund_no: z.string() }),
};
const jsonBody = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });

/**
 * What any request to the sandbox may be answered, whatever its route: 500 INTERNAL for a bug of
 * the sandbox's and 405 METHOD_NOT_ALLOWED (with `Allow`) for a method the path does not serve
 * (./index.ts), and what Node refuses before any route is known (the sandbox is served by the
 * checkout's own Node server, services.ts).
 */
const ANY_REQUEST: ReadonlyArray<readonly [string, number]> = [
  ...NODE_REFUSALS,
  ['METHOD_NOT_ALLOWED', 405],
  ['INTERNAL', 500],
];

/** The `{error: {code, message}}` answers of a control route: `codes` (code, status), and those of any request. */
export const failures = (...codes: Array<readonly [string, number]>) => errorAnswers([...codes, ...ANY_REQUEST]);
/** What `readControlBody` (./control.ts) refuses a body with: not a JSON object or not the schema's; over 1 MiB. */
export const BAD_BODY = [
  ['BAD_REQUEST', 400],
  ['BODY_TOO_LARGE', 413],
] as const;
const NO_SUCH_BILL = ['NO_SUCH_BILL', 404] as const;
const NO_SUCH_REFUND = ['NO_SUCH_REFUND', 404] as const;

/** The OpenAPI operations of ./control.ts. */
export const controlOperations: ApiOperation[] = [
  {
    method: 'post',
    path: '/sandbox/wechat/codes',
    tags,
    summary: 'Mint a wx.login code',
    request: { body: jsonBody(mintCodeSchema) },
    responses: {
      201: jsonAnswer('A code for `POST /api/session`.', z.strictObject({ code: z.string(), openid: z.string() })),
      ...failures(...BAD_BODY),
    },
  },
  {
    method: 'post',
    path: '/sandbox/douyin/codes',
    tags,
    summary: 'Mint a tt.login code pair',
    request: { body: jsonBody(mintDouyinCodeSchema) },
    responses: {
      201: jsonAnswer(
        'A code and an anonymous code for `POST /api/session`.',
        z.strictObject({
          code: z.string(),
          anonymousCode: z.string(),
          openid: z.string(),
          anonymousOpenid: z.string(),
        }),
      ),
      ...failures(...BAD_BODY),
    },
  },
  {
    method: 'get',
    path: '/sandbox/bills',
    tags,
    summary: "List the gateway's bills",
    request: { query: billNoFilter },
    responses: { 200: jsonAnswer('The bills.', z.strictObject({ bills: z.array(sandboxBillSchema) })), ...failures() },
  },
  {
    method: 'post',
    path: '/sandbox/bills/{bill_no}/settle',
    tags,
    summary: 'Pay, fail or close a bill as its channel would',
    description: 'Only `paid` starts a PAY webhook: the gateway sends webhooks for successes alone.',
    request: { params: params.bill, body: jsonBody(settleSchema) },
    responses: {
      200: jsonAnswer(
        'The bill; whether it changed and whether a webhook delivery started.',
        z.strictObject({ bill: sandboxBillSchema, changed: z.boolean(), notifying: z.boolean() }),
      ),
      ...failures(...BAD_BODY, NO_SUCH_BILL, ['BILL_ALREADY_PAID', 409]),
    },
  },
  {
    method: 'post',
    path: '/sandbox/bills/{bill_no}/notify',
    tags,
    summary: "Send a paid bill's PAY webhook again",
    request: { params: params.bill },
    responses: {
      200: jsonAnswer(
        'The bill, and whether a delivery started.',
        z.strictObject({ bill: sandboxBillSchema, notifying: z.boolean() }),
      ),
      ...failures(NO_SUCH_BILL, ['BILL_NOT_PAID', 409], ['NO_NOTIFY_URL', 409]),
    },
  },
  {
    method: 'get',
    path: '/sandbox/bills/{bill_no}/deliveries',
    tags,
    summary: "A bill's PAY webhook attempts",
    request: { params: params.bill },
    responses: { 200: jsonAnswer('The attempts, oldest first.', deliveries), ...failures(NO_SUCH_BILL) },
  },
  {
    method: 'get',
    path: '/sandbox/refunds',
    tags,
    summary: "List the gateway's refunds",
    request: { query: billNoFilter },
    responses: {
      200: jsonAnswer('The refunds.', z.strictObject({ refunds: z.array(sandboxRefundSchema) })),
      ...failures(),
    },
  },
  {
    method: 'post',
    path: '/sandbox/refunds/hold',
    tags,
    summary: 'Keep the next refunds processing',
    request: { body: jsonBody(refundHoldSchema) },
    responses: {
      201: refundHoldAnswer,
      ...failures(...BAD_BODY),
    },
  },
  {
    method: 'delete',
    path: '/sandbox/refunds/hold',
    tags,
    summary: 'Let refunds succeed at once again',
    responses: {
      200: refundReleaseAnswer,
      ...failures(),
    },
  },
  {
    method: 'post',
    path: '/sandbox/refunds/{refund_no}/settle',
    tags,
    summary: 'Finish a processing refund',
    request: { params: params.refund, body: jsonBody(refundSettleSchema) },
    responses: {
      200: jsonAnswer(
        'The refund, and whether a REFUND webhook delivery started.',
        z.strictObject({ refund: sandboxRefundSchema, notifying: z.boolean() }),
      ),
      ...failures(...BAD_BODY, NO_SUCH_REFUND, ['REFUND_FINISHED', 409]),
    },
  },
  {
    method: 'get',
    path: '/sandbox/refunds/{refund_no}/deliveries',
    tags,
    summary: "A refund's REFUND webhook attempts",
    request: { params: params.refund },
    responses: { 200: jsonAnswer('The attempts, oldest first.', deliveries), ...failures(NO_SUCH_REFUND) },
  },
  {
    method: 'post',
    path: '/sandbox/gateway/faults',
    tags,
    summary: 'Make the gateway refuse, fail or answer late',
    request: { body: jsonBody(faultSchema) },
    responses: {
      201: jsonAnswer('The fault, pending.', z.strictObject({ fault: sandboxFaultSchema })),
      ...failures(...BAD_BODY),
    },
  },
  {
    method: 'delete',
    path: '/sandbox/gateway/faults',
    tags,
    summary: 'Drop the pending faults',
    responses: {
      200: jsonAnswer('How many were dropped.', z.strictObject({ cleared: z.number().int() })),
      ...failures(),
    },
  },
  {
    method: 'get',
    path: '/sandbox/alipay/public-key',
    tags,
    summary: 'The key that verifies ALI_APP order strings and Alipay results',
    responses: { 200: jsonAnswer('A PEM public key.', z.strictObject({ public_key: z.string() })), ...failures() },
  },
];

/** The OpenAPI operations of ./alipay/app-pay.ts. */
export const alipayAppOperations: ApiOperation[] = [
  {
    method: 'post',
    path: '/sandbox/alipay/app-pay',
    tags,
    summary: 'Pay or cancel an ALI_APP order string as the Alipay app would',
    request: { body: { required: true, ...jsonBody(alipayAppPaySchema) } },
    responses: {
      200: jsonAnswer('What the Alipay SDK hands the app.', alipayAppResult),
      ...failures(...BAD_BODY),
    },
  },
];

const h5PayRefusals = [
  ['BAD_REQUEST', 400],
  ['NOT_H5_BILL', 400],
  ['BODY_TOO_LARGE', 413],
  NO_SUCH_BILL,
  ['BILL_NOT_OPEN', 409],
] as const;

/** The answers of `failures(...refusals)`, those of `refusals`' statuses also as the HTML page a browser's form post gets. */
function withHtml(refusals: ReadonlyArray<readonly [string, number]>): Record<string, ResponseConfig> {
  const html = new Set(refusals.map(([, status]) => String(status)));
  return Object.fromEntries(
    Object.entries(failures(...refusals)).map(([status, answer]) => [
      status,
      html.has(status) ? { ...answer, content: { ...answer.content, 'text/html': { schema: z.string() } } } : answer,
    ]),
  );
}

/** `answers`, with an HTML page (described by `pages`) as the answer of those statuses too. */
function withPages(
  answers: Record<string, ResponseConfig>,
  pages: Record<number, string>,
): Record<string, ResponseConfig> {
  const merged = { ...answers };
  for (const [status, description] of Object.entries(pages)) {
    const answer = answers[status];
    merged[status] = {
      description: answer ? `A page: ${description} Or JSON: ${answer.description}` : description,
      content: { ...answer?.content, 'text/html': { schema: z.string() } },
    };
  }
  return merged;
}

/** The OpenAPI operations of ./h5pay/pay-page.ts. */
export const h5PayOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/sandbox/wechat/h5pay',
    tags,
    summary: 'The WeChat H5 cashier page of a BC_WX_WAP bill',
    description: 'A bill no longer open shows its state on a 200 page.',
    request: { query: h5PayPageQuery },
    responses: {
      200: html('The cashier page (or the state of a bill no longer open).'),
      ...withPages(failures(), { 400: 'No `bill_no`, or not a BC_WX_WAP bill.', 404: 'No such bill.' }),
    },
  },
  {
    method: 'post',
    path: '/sandbox/wechat/h5pay',
    tags,
    summary: 'Pay or cancel on the WeChat H5 cashier',
    description:
      'Answers JSON when the request is JSON or `Accept` prefers JSON; otherwise an HTML page with the same status.',
    request: {
      body: {
        required: true,
        content: {
          'application/x-www-form-urlencoded': { schema: h5PayFormSchema },
          'application/json': { schema: h5PayFormSchema },
        },
      },
    },
    responses: {
      ...withHtml(h5PayRefusals),
      200: {
        description: 'Paid (`notifying`: a PAY webhook delivery started) or cancelled (the bill stays open).',
        content: {
          'application/json': {
            schema: z
              .strictObject({ bill_no: z.string(), status: billStatus, notifying: z.boolean().optional() })
              .meta({ id: 'SandboxH5PayResult' }),
          },
          'text/html': { schema: z.string() },
        },
      },
    },
  },
];
