import { z } from 'zod';
import { jsonAnswer, type ApiOperation } from '../../openapi/operations';
import { BAD_BODY, failures, refundHoldAnswer, refundHoldSchema, refundReleaseAnswer } from '../control-contract';
import { WECHATPAY_OPERATIONS } from './store';

/**
 * The contract of the emulated WeChat Pay's control routes under `/sandbox/wechatpay/`
 * (./control.ts): the zod schemas they validate requests with, those of their answers, and their
 * OpenAPI operations, which the checkout server's `GET /openapi.json` documents (tag `sandbox`)
 * while the sandbox runs. The emulated API itself (`/v3/…`, ./api.ts) is WeChat Pay's, not
 * documented here. Times named `*_at` / `*_expire` are sandbox-clock ms, `*_time` RFC 3339 as
 * APIv3 writes them; amounts are fen.
 */

/** `{result, notify}` of `POST /sandbox/wechatpay/transactions/:out_trade_no/settle`. */
export const transactionSettleSchema = z
  .object({
    result: z
      .enum(['paid', 'closed'])
      .meta({ description: '`paid`: the payer pays; `closed`: the order closes unpaid.' }),
    notify: z
      .boolean()
      .default(true)
      .meta({ description: '`false`: no TRANSACTION.SUCCESS notification (a lost one; queries show the order paid).' }),
    success_time: z
      .number()
      .int()
      .positive()
      .optional()
      .meta({
        description:
          'Only with `paid`: when the payer paid (sandbox-clock ms, not later than now; default now), e.g. an earlier ' +
          'day whose trade bill is ready.',
      }),
  })
  .strict()
  .refine((input) => input.success_time === undefined || input.result === 'paid', {
    message: 'success_time is when a payment was made: give it with result "paid"',
    path: ['success_time'],
  })
  .meta({ id: 'SandboxWechatPaySettleRequest' });

/** `POST /sandbox/wechatpay/faults`. */
export const wechatPayFaultSchema = z
  .object({
    operation: z
      .enum(WECHATPAY_OPERATIONS)
      .default('any')
      .meta({
        description:
          'The call it answers: prepay (JSAPI下单), query (查询订单), close (关闭订单), refund (申请退款), ' +
          'refund_query (查询单笔退款), tradebill (申请交易账单), or any of them.',
      }),
    http_status: z.number().int().min(400).max(599),
    code: z
      .string()
      .regex(/^[A-Z][A-Z_]{0,63}$/, "must be one of WeChat Pay's codes, e.g. FREQUENCY_LIMITED")
      .optional()
      .meta({ description: 'Default: SYSTEM_ERROR for a 5xx, FREQUENCY_LIMITED for 429, INVALID_REQUEST otherwise.' }),
    message: z.string().max(200).optional(),
    after: z
      .boolean()
      .default(false)
      .meta({ description: '`true`: the call is carried out first, then answered with the error.' }),
    signed: z
      .boolean()
      .default(true)
      .meta({ description: '`false`: answered without `Wechatpay-*` headers, as a proxy in front would answer.' }),
    count: z.number().int().positive().max(10_000).default(1),
  })
  .strict()
  .meta({ id: 'SandboxWechatPayFaultRequest' });

const wechatPayFaultView = z
  .strictObject({
    operation: z.enum(WECHATPAY_OPERATIONS),
    http_status: z.number().int(),
    code: z.string(),
    message: z.string(),
    after: z.boolean(),
    signed: z.boolean(),
    count: z.number().int().meta({ description: 'Calls it still answers.' }),
  })
  .meta({ id: 'SandboxWechatPayFault' });
export type WechatPayFaultView = z.infer<typeof wechatPayFaultView>;

/** `{result, notify}` of `POST /sandbox/wechatpay/refunds/:out_refund_no/settle`. */
export const refundSettleSchema = z
  .object({
    result: z.enum(['success', 'abnormal', 'closed']).meta({
      description:
        'The refund becomes SUCCESS, ABNORMAL or CLOSED (a CLOSED refund gives its amount back to the order).',
    }),
    notify: z
      .boolean()
      .default(true)
      .meta({ description: '`false`: no REFUND.* notification, even when the refund has a notify_url.' }),
  })
  .strict()
  .meta({ id: 'SandboxWechatPayRefundSettleRequest' });

const signingMode = z
  .enum(['certificate', 'public_key'])
  .meta({ description: '`certificate`: the newest platform certificate signs; `public_key`: the 微信支付公钥 signs.' });

/** `{mode}` of `POST /sandbox/wechatpay/mode`. */
export const modeSchema = z.object({ mode: signingMode }).strict().meta({ id: 'SandboxWechatPayModeRequest' });

/** `{count}` of `POST /sandbox/wechatpay/refunds/hold`. */
/** The body of `POST /sandbox/wechatpay/certificates/rotate`: nothing (empty, or `{}`). */
export const rotateSchema = z.object({}).strict().meta({ id: 'SandboxWechatPayRotateRequest' });

/** `?out_trade_no=`: only that order's transactions or refunds (a repeated or missing one lists them all). */
export const outTradeNoFilter = z.object({ out_trade_no: z.string().optional() });

const pem = (description: string) => z.string().meta({ description: `${description} (PEM).` });

/** What `GET /sandbox/wechatpay/keys` answers: development keys only. */
export const wechatPayKeysSchema = z
  .strictObject({
    mchid: z.string(),
    appid: z.string(),
    serialNo: z
      .string()
      .meta({ description: "The merchant API certificate's serial, which requests name in `serial_no`." }),
    merchantPrivateKey: pem("The merchant's API private key, which signs requests"),
    merchantPublicKey: pem('Its public key'),
    platformPublicKeyId: z
      .string()
      .meta({ description: "The 微信支付公钥's id (`PUB_KEY_ID_…`), the serial of answers in `public_key` mode." }),
    platformPublicKey: pem('The 微信支付公钥'),
    platformPrivateKey: pem('Its private key'),
    apiV3Key: z
      .string()
      .meta({ description: 'The APIv3 key (32 characters) that encrypts notifications and certificates.' }),
    mode: signingMode,
    certificates: z
      .array(z.strictObject({ serialNo: z.string(), certificate: pem('The X.509 platform certificate') }))
      .meta({ description: 'Oldest first; the last one signs in `certificate` mode.' }),
  })
  .meta({ id: 'SandboxWechatPayKeys' });
export type WechatPayKeysView = z.infer<typeof wechatPayKeysSchema>;

/** A transaction (an order prepaid with JSAPI下单) as the control routes show it. */
export const wechatPayTransactionSchema = z
  .strictObject({
    out_trade_no: z.string(),
    prepay_id: z.string(),
    amount: z.strictObject({ total: z.number().int() }),
    trade_state: z.enum(['NOTPAY', 'SUCCESS', 'REFUND', 'CLOSED']),
    created_at: z.number().int(),
    transaction_id: z.string().nullable().meta({ description: "WeChat Pay's order number, once paid." }),
    success_time: z.number().int().nullable(),
    time_expire: z.number().int().nullable(),
    openid: z.string(),
    notify_url: z.string(),
    refunded: z.number().int().meta({ description: 'Fen refunded or being refunded (closed refunds excepted).' }),
    deliveries: z.number().int().meta({ description: 'TRANSACTION.SUCCESS notification attempts so far.' }),
  })
  .meta({ id: 'SandboxWechatPayTransaction' });
export type WechatPayTransactionView = z.infer<typeof wechatPayTransactionSchema>;

/** A refund, as 申请退款 and 查询单笔退款 answer it (./api.ts) and the control routes show it. */
export const wechatPayRefundSchema = z
  .strictObject({
    refund_id: z.string(),
    out_refund_no: z.string(),
    transaction_id: z.string(),
    out_trade_no: z.string(),
    channel: z.literal('ORIGINAL'),
    user_received_account: z.string(),
    create_time: z.string(),
    success_time: z.string().optional().meta({ description: 'Once SUCCESS.' }),
    status: z.enum(['PROCESSING', 'SUCCESS', 'ABNORMAL', 'CLOSED']),
    funds_account: z.literal('UNAVAILABLE'),
    amount: z.strictObject({
      total: z.number().int(),
      refund: z.number().int(),
      payer_total: z.number().int(),
      payer_refund: z.number().int(),
      settlement_refund: z.number().int(),
      settlement_total: z.number().int(),
      discount_refund: z.number().int(),
      currency: z.literal('CNY'),
      refund_fee: z.number().int(),
    }),
  })
  .meta({ id: 'SandboxWechatPayRefund' });
export type WechatPayRefundView = z.infer<typeof wechatPayRefundSchema>;

const deliveries = z.strictObject({
  deliveries: z.array(
    z
      .strictObject({
        event_type: z.enum(['TRANSACTION.SUCCESS', 'REFUND.SUCCESS', 'REFUND.ABNORMAL', 'REFUND.CLOSED']),
        attempt: z.number().int().meta({ description: '1-based, within the current delivery chain.' }),
        at: z.number().int(),
        status: z.number().int().nullable().meta({ description: 'null: no HTTP answer (refused, timed out, …).' }),
        body: z.string().meta({ description: 'The first 200 characters of the answer.' }),
        ok: z.boolean().meta({ description: 'A 2xx: acknowledged, no more attempts.' }),
      })
      .meta({ id: 'SandboxWechatPayDelivery' }),
  ),
});

const tags = ['sandbox'];
const params = {
  transaction: z.object({ out_trade_no: z.string() }),
  refund: z.object({ out_refund_no: z.string() }),
};
const jsonBody = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const NO_SUCH_TRANSACTION = ['ORDER_NOT_EXIST', 404] as const;
const NO_SUCH_REFUND = ['RESOURCE_NOT_EXISTS', 404] as const;

/** The OpenAPI operations of ./control.ts. */
export const wechatPayControlOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/sandbox/wechatpay/keys',
    tags,
    summary: "The emulated WeChat Pay's development keys",
    description: 'Generated on the first call (or read from the data directory). Development keys only.',
    responses: { 200: jsonAnswer('The keys and the signing mode.', wechatPayKeysSchema), ...failures() },
  },
  {
    method: 'post',
    path: '/sandbox/wechatpay/mode',
    tags,
    summary: "Choose which key signs WeChat Pay's answers and notifications",
    request: { body: { required: true, ...jsonBody(modeSchema) } },
    responses: {
      200: jsonAnswer(
        'The mode, and the serial answers carry from now on (`Wechatpay-Serial`).',
        z.strictObject({
          mode: signingMode,
          serial: z.string().meta({ description: "The newest certificate's serial, or the 微信支付公钥's id." }),
        }),
      ),
      ...failures(...BAD_BODY),
    },
  },
  {
    method: 'post',
    path: '/sandbox/wechatpay/certificates/rotate',
    tags,
    summary: 'Issue a new platform certificate',
    description:
      'The new certificate signs from now on (in `certificate` mode); `/v3/certificates` serves it and the previous one.',
    request: { body: jsonBody(rotateSchema) },
    responses: {
      200: jsonAnswer(
        'The new serial, the one it replaces, and the serials `/v3/certificates` serves.',
        z.strictObject({ serialNo: z.string(), previousSerialNo: z.string(), served: z.array(z.string()) }),
      ),
      ...failures(...BAD_BODY),
    },
  },
  {
    method: 'get',
    path: '/sandbox/wechatpay/transactions',
    tags,
    summary: "List the emulated WeChat Pay's transactions",
    request: { query: outTradeNoFilter },
    responses: {
      200: jsonAnswer('The transactions.', z.strictObject({ transactions: z.array(wechatPayTransactionSchema) })),
      ...failures(),
    },
  },
  {
    method: 'post',
    path: '/sandbox/wechatpay/transactions/{out_trade_no}/settle',
    tags,
    summary: 'Pay or close a NOTPAY transaction as the payer would',
    description: "Only `paid` sends a notification (TRANSACTION.SUCCESS, to the prepay's notify_url).",
    request: { params: params.transaction, body: { required: true, ...jsonBody(transactionSettleSchema) } },
    responses: {
      200: jsonAnswer(
        'The transaction, and whether a notification delivery started.',
        z.strictObject({ transaction: wechatPayTransactionSchema, notifying: z.boolean() }),
      ),
      ...failures(
        ...BAD_BODY,
        NO_SUCH_TRANSACTION,
        ['TRANSACTION_PAID', 409],
        ['TRANSACTION_CLOSED', 409],
        ['TRANSACTION_EXPIRED', 409],
      ),
    },
  },
  {
    method: 'post',
    path: '/sandbox/wechatpay/faults',
    tags,
    summary: "Make the emulated WeChat Pay's next calls fail",
    description:
      'The next `count` calls of `operation` are answered `http_status` with `{code, message}`: before anything is ' +
      'done, or (`after`) once it is done; signed, or not. Faults are not kept across restarts.',
    request: { body: { required: true, ...jsonBody(wechatPayFaultSchema) } },
    responses: {
      201: jsonAnswer('The fault, pending.', z.strictObject({ fault: wechatPayFaultView })),
      ...failures(...BAD_BODY),
    },
  },
  {
    method: 'delete',
    path: '/sandbox/wechatpay/faults',
    tags,
    summary: 'Drop the pending faults',
    responses: {
      200: jsonAnswer('How many were dropped.', z.strictObject({ cleared: z.number().int() })),
      ...failures(),
    },
  },
  {
    method: 'get',
    path: '/sandbox/wechatpay/transactions/{out_trade_no}/deliveries',
    tags,
    summary: "A transaction's TRANSACTION.SUCCESS notification attempts",
    request: { params: params.transaction },
    responses: { 200: jsonAnswer('The attempts, oldest first.', deliveries), ...failures(NO_SUCH_TRANSACTION) },
  },
  {
    method: 'get',
    path: '/sandbox/wechatpay/refunds',
    tags,
    summary: "List the emulated WeChat Pay's refunds",
    request: { query: outTradeNoFilter },
    responses: {
      200: jsonAnswer(
        'The refunds, as the refund query answers them.',
        z.strictObject({ refunds: z.array(wechatPayRefundSchema) }),
      ),
      ...failures(),
    },
  },
  {
    method: 'post',
    path: '/sandbox/wechatpay/refunds/hold',
    tags,
    summary: 'Keep the next refunds PROCESSING',
    description: 'By default a refund succeeds right after its answer.',
    request: { body: jsonBody(refundHoldSchema) },
    responses: {
      201: refundHoldAnswer,
      ...failures(...BAD_BODY),
    },
  },
  {
    method: 'delete',
    path: '/sandbox/wechatpay/refunds/hold',
    tags,
    summary: 'Let refunds succeed at once again',
    responses: {
      200: refundReleaseAnswer,
      ...failures(),
    },
  },
  {
    method: 'post',
    path: '/sandbox/wechatpay/refunds/{out_refund_no}/settle',
    tags,
    summary: 'Finish a PROCESSING refund',
    description: "Sends REFUND.SUCCESS, REFUND.ABNORMAL or REFUND.CLOSED to the refund's notify_url, when it has one.",
    request: { params: params.refund, body: { required: true, ...jsonBody(refundSettleSchema) } },
    responses: {
      200: jsonAnswer(
        'The refund, and whether a notification delivery started.',
        z.strictObject({ refund: wechatPayRefundSchema, notifying: z.boolean() }),
      ),
      ...failures(...BAD_BODY, NO_SUCH_REFUND, ['REFUND_FINISHED', 409]),
    },
  },
  {
    method: 'get',
    path: '/sandbox/wechatpay/refunds/{out_refund_no}/deliveries',
    tags,
    summary: "A refund's REFUND.* notification attempts",
    request: { params: params.refund },
    responses: { 200: jsonAnswer('The attempts, oldest first.', deliveries), ...failures(NO_SUCH_REFUND) },
  },
];
