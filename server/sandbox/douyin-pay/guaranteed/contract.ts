import { z } from 'zod';
import { jsonAnswer, type ApiOperation } from '../../../openapi/operations';
import { BAD_BODY, failures } from '../../control-contract';

/** The contract of the emulated 担保支付's shopper route (./api.ts). */

/** `POST /sandbox/douyin/guaranteed/pay`: what `tt.pay({service: 5, orderInfo})` hands Douyin's cashier. */
export const guaranteedPaySchema = z
  .strictObject({
    order_id: z.string().min(1).max(64).meta({ description: "`orderInfo.order_id`: Douyin's order number." }),
    order_token: z
      .string()
      .min(1)
      .max(256)
      .meta({ description: '`orderInfo.order_token`, as `create_order` answered it.' }),
    action: z
      .enum(['open', 'pay', 'cancel'])
      .default('pay')
      .meta({
        description:
          '`open`: the cashier opens (the order and its token are checked, nothing changes); `pay`: the shopper ' +
          'pays (the payment callback follows); `cancel`: the shopper closes the cashier.',
      }),
  })
  .meta({ id: 'SandboxDouyinGuaranteedPayRequest' });

const payAnswerSchema = z
  .strictObject({
    code: z
      .union([z.literal(0), z.literal(4)])
      .optional()
      .meta({ description: "What `tt.pay`'s `success` reports: 0 paid, 4 cancelled; none for `open`." }),
    order: z.strictObject({
      orderId: z.string(),
      outOrderNo: z.string(),
      status: z.enum(['pending', 'paid', 'closed']),
    }),
  })
  .meta({ id: 'SandboxDouyinGuaranteedPayAnswer' });

/** The OpenAPI operations of the shopper route. */
export const guaranteedControlOperations: ApiOperation[] = [
  {
    method: 'post',
    path: '/sandbox/douyin/guaranteed/pay',
    tags: ['sandbox'],
    summary: "The shopper in Douyin's cashier for a 担保支付 order (`tt.pay` service 5)",
    description:
      'Checks `order_token` against the order `order_id` names, as the cashier does, then pays or cancels. ' +
      'A paid order gets its signed payment callback.',
    request: { body: { required: true, content: { 'application/json': { schema: guaranteedPaySchema } } } },
    responses: {
      200: jsonAnswer('What the cashier reports.', payAnswerSchema),
      ...failures(...BAD_BODY, ['NO_SUCH_ORDER', 404], ['ORDER_TOKEN_MISMATCH', 403], ['ORDER_STATE_CONFLICT', 409]),
    },
  },
];
