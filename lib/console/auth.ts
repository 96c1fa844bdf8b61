import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

export const SESSION_COOKIE = 'pa_console'

/**
 * Who may use the console. On loopback nobody logs in (like /metrics); with a token (required
 * beyond loopback) a browser logs in once and holds an HttpOnly, SameSite=Strict cookie derived
 * from the token, never the token itself. Every state change (POST) carries a CSRF token bound
 * to the session, and is refused when the browser says it came from another site.
 */
export class ConsoleAuth {
  readonly #token: string | undefined
  readonly #key = randomBytes(32)

  constructor (token: string | undefined) {
    this.#token = token === '' ? undefined : token
  }

  get required (): boolean { return this.#token !== undefined }

  /** The cookie value for a correct token, else undefined. */
  login (token: string): string | undefined {
    if (this.#token === undefined || !same(token, this.#token)) return undefined
    return this.#session()
  }

  allowed (req: IncomingMessage): boolean {
    if (this.#token === undefined) return true
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    if (bearer !== undefined) return same(bearer, this.#token)
    const cookie = cookies(req)[SESSION_COOKIE]
    return cookie !== undefined && same(cookie, this.#session())
  }

  csrf (req: IncomingMessage): string {
    return createHmac('sha256', this.#key).update(`csrf:${cookies(req)[SESSION_COOKIE] ?? 'loopback'}`).digest('hex')
  }

  /** A POST is ours: same-origin by the browser's own headers, and the form's token matches. */
  postAllowed (req: IncomingMessage, formToken: string | undefined): boolean {
    const site = req.headers['sec-fetch-site']
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return false
    const origin = req.headers.origin
    if (origin !== undefined && originHost(origin) !== req.headers.host) return false
    return formToken !== undefined && same(formToken, this.csrf(req))
  }

  #session (): string {
    return createHmac('sha256', this.#key).update(`session:${this.#token ?? ''}`).digest('hex')
  }
}

function same (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function cookies (req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim())
  }
  return out
}

/** Loopback Host names only when bound to loopback: a DNS-rebinding page cannot reach us under its own name. */
export function hostAllowed (req: IncomingMessage, loopbackOnly: boolean): boolean {
  if (!loopbackOnly) return true
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function originHost (origin: string): string | undefined {
  try {
    return new URL(origin).host
  } catch {
    return undefined
  }
}
