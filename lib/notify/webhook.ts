import { createHmac } from 'node:crypto'

/** How one delivery attempt went; `permanent` failures are not retried. */
export type Delivery = { readonly ok: true } | { readonly ok: false, readonly permanent: boolean, readonly error: string }

export const SIGNATURE_HEADER = 'X-Phone-Agent-Signature'

/**
 * `sha256=<hex>` of HMAC-SHA256 over the exact body bytes. A receiver recomputes it over the
 * raw body it read (before any JSON parsing) and compares in constant time.
 */
export function signature (body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`
}

export interface WebhookRequest {
  readonly url: string
  readonly secret: string
  readonly body: string
  /** The delivery id: the same on every retry. */
  readonly id: string
  readonly timeoutMs: number
  readonly signal?: AbortSignal | undefined
}

/**
 * One POST. 2xx is delivered; 408, 425, 429 and 5xx (and any network failure) are worth
 * another try; any other status means the receiver refuses this body and will refuse it again.
 */
export async function postWebhook (request: WebhookRequest): Promise<Delivery> {
  const timeout = AbortSignal.timeout(request.timeoutMs)
  const signal = request.signal === undefined ? timeout : AbortSignal.any([timeout, request.signal])
  try {
    const res = await fetch(request.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'phone-agent',
        [SIGNATURE_HEADER]: signature(request.body, request.secret),
        'X-Phone-Agent-Delivery': request.id,
      },
      body: request.body,
      signal,
      redirect: 'error',
    })
    // Drain the body so the connection is released.
    await res.arrayBuffer().catch(() => undefined)
    if (res.status >= 200 && res.status < 300) return { ok: true }
    const transient = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500
    return { ok: false, permanent: !transient, error: `HTTP ${res.status}` }
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    const reason = timeout.aborted ? `timed out after ${request.timeoutMs} ms` : e.cause?.code ?? e.message
    return { ok: false, permanent: false, error: reason }
  }
}
