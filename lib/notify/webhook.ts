import { createHmac } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

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
 * node:http(s) without an agent, not fetch: no pooled keep-alive socket outlives the delivery
 * (a stopping service must not hold connections), and a redirect is not followed.
 */
export async function postWebhook (request: WebhookRequest): Promise<Delivery> {
  const url = new URL(request.url)
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  const body = Buffer.from(request.body, 'utf8')
  return await new Promise<Delivery>((resolve) => {
    let settled = false
    const done = (d: Delivery): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      request.signal?.removeEventListener('abort', onAbort)
      resolve(d)
    }
    const req = send(url, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'user-agent': 'phone-agent',
        [SIGNATURE_HEADER]: signature(request.body, request.secret),
        'X-Phone-Agent-Delivery': request.id,
      },
    }, (res) => {
      // Drain the answer; only its status matters.
      res.resume()
      res.on('end', () => {
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) { done({ ok: true }); return }
        const transient = status === 408 || status === 425 || status === 429 || status >= 500
        done({ ok: false, permanent: !transient, error: `HTTP ${status}` })
      })
      res.on('error', (err) => { done({ ok: false, permanent: false, error: err.message }) })
    })
    const timer = setTimeout(() => {
      req.destroy()
      done({ ok: false, permanent: false, error: `timed out after ${request.timeoutMs} ms` })
    }, request.timeoutMs)
    const onAbort = (): void => {
      req.destroy()
      done({ ok: false, permanent: false, error: 'stopped' })
    }
    request.signal?.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err: NodeJS.ErrnoException) => { done({ ok: false, permanent: false, error: err.code ?? err.message }) })
    req.end(body)
  })
}
