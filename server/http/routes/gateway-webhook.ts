import Router from '@koa/router';
import { z } from 'zod';
import type { ProviderNotifications } from '../../domain/webhooks';
import { describeRoutes } from '../../openapi/operations';
import { providerMessageOf, rawTextBody } from '../bodies';
import { errorsOf } from '../contract';

/**
 * The gateway's webhook (seed 001 §3), PAY and REFUND alike. The literal body `success` is the acknowledgement and is
 * sent only after the verdict is committed; every other answer makes the gateway retry. The body
 * is read as text whatever its Content-Type and handed to the verifier unparsed.
 */
export function gatewayWebhookRoutes(webhooks: ProviderNotifications) {
  const router = new Router();
  router.post('/api/gateway/webhook', rawTextBody(), async (ctx) => {
    await webhooks.receive('gateway', providerMessageOf(ctx));
    ctx.type = 'text/plain';
    ctx.body = 'success';
  });
  return describeRoutes(router, [
    {
      method: 'post',
      path: '/api/gateway/webhook',
      tags: ['gateway'],
      summary: "The payment gateway's webhook (PAY and REFUND)",
      description:
        'Called by the gateway, not by you. The body is read as text whatever its Content-Type and only the ' +
        'signature verifier parses it (the gateway sends a JSON message). `success` acknowledges it once stored; ' +
        'any other answer makes the gateway retry.',
      request: {
        body: {
          required: true,
          content: {
            '*/*': { schema: z.string().meta({ description: "The gateway's signed JSON message, as text." }) },
          },
        },
      },
      responses: {
        200: {
          description: 'Stored (or already stored).',
          content: { 'text/plain': { schema: z.literal('success') } },
        },
        ...errorsOf(
          'VALIDATION_FAILED',
          'UNSUPPORTED_MEDIA_TYPE',
          'WEBHOOK_INVALID',
          'WEBHOOK_SIGNATURE_INVALID',
          'WEBHOOK_UNKNOWN_TRANSACTION',
        ),
      },
    },
  ]);
}
