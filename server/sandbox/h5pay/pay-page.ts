import { Router } from '@koa/router';
import { describeRoutes } from '../../openapi/operations';
import { h5PayFormSchema, h5PayOperations, h5PayPageQuery } from '../control-contract';
import { BodyTooLargeError, echoed, isPlainObject, readBody, sendError } from '../shared/http';
import { settleAndNotify, type SettlementDependencies } from '../gateway/settlement';
import type { Bill, BillStatus, GatewayStore } from '../gateway/store';
import { fenToYuan } from '../gateway/webhook-message';

/**
 * WeChat H5 payment (MWEB) as the shopper sees it: the page behind the `url` the gateway
 * answers for a `BC_WX_WAP` bill (what Douyin's cashier calls `wx_url`). Real WeChat opens
 * its cashier over that page; the sandbox serves a plain HTML page with the merchant, the
 * amount and two buttons, and no JavaScript.
 *
 *   GET  /sandbox/wechat/h5pay?bill_no=…[&redirect_url=…]  the cashier page (HTML)
 *   POST /sandbox/wechat/h5pay {bill_no, action: pay|cancel[, redirect_url]}
 *        form-encoded (what the page's buttons send) or JSON.
 *
 * `pay` settles the bill paid through the same path as `POST /sandbox/bills/:bill_no/settle`
 * (the PAY webhook goes to `notify_url`, with retries); `cancel` leaves it open. The POST
 * answers JSON `{bill_no, status}` when the request is JSON or asks for JSON in `Accept`,
 * otherwise an HTML result page; refusals are 400 (not a BC_WX_WAP bill or a bad request),
 * 404 (unknown bill), 409 (bill no longer open).
 *
 * `redirect_url` mirrors WeChat's own parameter of the same name (appended to `mweb_url`
 * by the merchant): the result page links back to it.
 */

export interface H5PayDependencies extends SettlementDependencies {
  store: GatewayStore;
  /** WeChat Pay merchant id, shown on the page. */
  mchId: string;
  log: (line: string) => void;
}

const PATH = '/sandbox/wechat/h5pay';

type Action = 'pay' | 'cancel';

interface Refusal {
  status: number;
  code: string;
  /** For the JSON answer. */
  message: string;
  /** For the HTML page (Chinese, as WeChat shows it). */
  heading: string;
  detail: string;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
  body { margin: 0; font-family: -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif; background: #ededed; color: #111; }
  header { background: #fff; padding: 12px 16px; text-align: center; font-size: 17px; border-bottom: 1px solid #e5e5e5; }
  main { max-width: 480px; margin: 0 auto; padding: 24px 16px; text-align: center; }
  .merchant { font-size: 15px; color: #555; margin: 8px 0; }
  .amount { font-size: 40px; font-weight: 600; margin: 16px 0 24px; }
  .meta { font-size: 13px; color: #888; margin: 4px 0; word-break: break-all; }
  button, .button { display: block; width: 100%; box-sizing: border-box; padding: 12px; margin: 12px 0; border: 0; border-radius: 8px; font-size: 17px; text-decoration: none; }
  .primary { background: #07c160; color: #fff; }
  .secondary { background: #f2f2f2; color: #07c160; }
  .notice { font-size: 22px; margin: 24px 0 8px; }
`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>微信支付（沙箱）</header>
<main>
${body}
</main>
</body>
</html>
`;
}

function noticePage(heading: string, detail: string, links: string[] = []): string {
  return page(
    heading,
    [`<p class="notice">${escapeHtml(heading)}</p>`, `<p class="meta">${escapeHtml(detail)}</p>`, ...links].join('\n'),
  );
}

function yuan(fen: number): string {
  return `¥${fenToYuan(fen)}`;
}

/** `redirect_url` when it is an absolute http(s) URL; anything else is ignored. */
function readRedirectUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

function cashierUrl(billNo: string, redirectUrl?: string): string {
  const query = new URLSearchParams({ bill_no: billNo });
  if (redirectUrl) query.set('redirect_url', redirectUrl);
  return `${PATH}?${query.toString()}`;
}

const STATUS_NOTICE: Record<Exclude<BillStatus, 'open'>, { heading: string; detail: string }> = {
  paid: { heading: '订单已支付', detail: '该订单已支付成功，请勿重复支付。' },
  closed: { heading: '订单已关闭', detail: '该订单已关闭（超时或被商户关闭），无法继续支付。' },
  failed: { heading: '订单支付失败', detail: '该订单支付失败，无法继续支付。' },
};

export function createH5PayRoutes(deps: H5PayDependencies): Router {
  const { store } = deps;
  const now = deps.gateway.now;
  const router = new Router();

  /** The bill the shopper may pay here, or why not. */
  function payableBill(billNo: string | undefined): { bill: Bill } | { refusal: Refusal } {
    if (!billNo) {
      return {
        refusal: {
          status: 400,
          code: 'BAD_REQUEST',
          message: 'bill_no is required',
          heading: '参数错误',
          detail: '缺少订单号 bill_no。',
        },
      };
    }
    const bill = store.bills.get(billNo);
    if (!bill) {
      return {
        refusal: {
          status: 404,
          code: 'NO_SUCH_BILL',
          message: `no bill ${echoed(billNo)}`,
          heading: '订单不存在',
          detail: `找不到订单 ${echoed(billNo)}。`,
        },
      };
    }
    if (bill.channel !== 'BC_WX_WAP') {
      return {
        refusal: {
          status: 400,
          code: 'NOT_H5_BILL',
          message: `bill ${echoed(billNo)} is a ${bill.channel} bill; only BC_WX_WAP bills are paid on this page`,
          heading: '无法使用微信 H5 支付',
          detail: `订单 ${echoed(billNo)} 不是微信 H5 支付（BC_WX_WAP）订单。`,
        },
      };
    }
    const status = store.effectiveStatus(bill, now());
    if (status !== 'open') {
      return {
        refusal: {
          status: 409,
          code: 'BILL_NOT_OPEN',
          message: `bill ${echoed(billNo)} is ${status}, not open`,
          ...STATUS_NOTICE[status],
        },
      };
    }
    return { bill };
  }

  router.get(PATH, (ctx) => {
    // Each parameter on its own: a repeated one counts as absent, and spoils nothing else.
    const parameter = (name: keyof typeof h5PayPageQuery.shape) => {
      const parsed = h5PayPageQuery.shape[name].safeParse(ctx.query[name]);
      return parsed.success ? parsed.data : undefined;
    };
    const billNo = parameter('bill_no');
    const redirectUrl = readRedirectUrl(parameter('redirect_url'));
    const found = payableBill(billNo);
    ctx.type = 'html';
    if ('refusal' in found) {
      // A bill that was open once shows its state as a normal page; other refusals keep their status.
      const { refusal } = found;
      ctx.status = refusal.status === 409 ? 200 : refusal.status;
      ctx.body = noticePage(refusal.heading, refusal.detail, backLink(redirectUrl));
      return;
    }
    const { bill } = found;
    const hidden = [
      `<input type="hidden" name="bill_no" value="${escapeHtml(bill.billNo)}">`,
      redirectUrl ? `<input type="hidden" name="redirect_url" value="${escapeHtml(redirectUrl)}">` : '',
    ].join('');
    ctx.status = 200;
    ctx.body = page(
      `微信支付 - ${bill.title}`,
      `<p class="merchant">${escapeHtml(bill.title)}</p>
<p class="amount">${yuan(bill.totalFee)}</p>
<p class="meta">收款方：沙箱商户（商户号 ${escapeHtml(deps.mchId)}）</p>
<p class="meta">订单号：${escapeHtml(bill.billNo)}</p>
<form method="post" action="${PATH}">
${hidden}
<button class="primary" type="submit" name="action" value="pay">确认支付</button>
<button class="secondary" type="submit" name="action" value="cancel">取消</button>
</form>`,
    );
  });

  router.post(PATH, async (ctx) => {
    const wantsJson = Boolean(ctx.is('json')) || (ctx.get('Accept') !== '' && ctx.accepts('html', 'json') === 'json');
    const refuse = (refusal: Refusal, redirectUrl?: string) => {
      if (wantsJson) {
        sendError(ctx, refusal.status, refusal.code, refusal.message);
      } else {
        ctx.status = refusal.status;
        ctx.type = 'html';
        ctx.body = noticePage(refusal.heading, refusal.detail, backLink(redirectUrl));
      }
    };
    const badRequest = (message: string) =>
      refuse({ status: 400, code: 'BAD_REQUEST', message, heading: '参数错误', detail: message });

    let text: string;
    try {
      text = await readBody(ctx);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        refuse({
          status: 413,
          code: 'BODY_TOO_LARGE',
          message: error.message,
          heading: '请求过大',
          detail: error.message,
        });
        return;
      }
      throw error;
    }
    let fields: Record<string, unknown>;
    if (ctx.is('json')) {
      try {
        const value: unknown = JSON.parse(text);
        if (!isPlainObject(value)) {
          badRequest('request body must be a JSON object');
          return;
        }
        fields = value;
      } catch (error) {
        badRequest(`request body is not valid JSON (${(error as Error).message})`);
        return;
      }
    } else {
      fields = Object.fromEntries(new URLSearchParams(text));
    }

    const form = h5PayFormSchema.safeParse(fields);
    if (!form.success) {
      badRequest(form.error.issues[0]?.message ?? 'invalid request');
      return;
    }
    const billNo = form.data.bill_no || undefined;
    const redirectUrl = readRedirectUrl(form.data.redirect_url);
    const action: Action = form.data.action;
    const found = payableBill(billNo);
    if ('refusal' in found) {
      refuse(found.refusal, redirectUrl);
      return;
    }
    const { bill } = found;

    let notifying = false;
    if (action === 'pay') {
      const outcome = settleAndNotify(deps, bill, 'paid');
      if ('refused' in outcome) {
        // Not reachable for an open bill; kept so a future settle rule cannot slip through as 200.
        refuse({ status: 409, code: 'BILL_NOT_OPEN', message: outcome.refused, ...STATUS_NOTICE.paid }, redirectUrl);
        return;
      }
      notifying = outcome.notifying;
    }
    const status = store.effectiveStatus(bill, now());
    deps.log(`wechat h5pay ${bill.billNo} ${action} -> ${status}`);

    ctx.status = 200;
    if (wantsJson) {
      ctx.body = action === 'pay' ? { bill_no: bill.billNo, status, notifying } : { bill_no: bill.billNo, status };
      return;
    }
    ctx.type = 'html';
    ctx.body =
      action === 'pay'
        ? noticePage('支付成功', `${bill.title} ${yuan(bill.totalFee)} 已支付。`, backLink(redirectUrl))
        : noticePage('已取消支付', '订单仍未支付，可重新发起支付。', [
            `<a class="button secondary" href="${escapeHtml(cashierUrl(bill.billNo, redirectUrl))}">重新支付</a>`,
            ...backLink(redirectUrl),
          ]);
  });

  return describeRoutes(router, h5PayOperations);
}

function backLink(redirectUrl: string | undefined): string[] {
  return redirectUrl ? [`<a class="button primary" href="${escapeHtml(redirectUrl)}">返回商家</a>`] : [];
}
