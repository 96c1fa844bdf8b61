import { interceptors, type Dispatcher } from 'undici'
import { ProviderPool } from './warm-sockets.ts'

export interface OpenAiClientOptions {
  readonly baseUrl: string
  /** Undefined for servers that take no key (Ollama, a local Whisper server). */
  readonly apiKey: string | undefined
  /** The connection pool (tests); by default the process-wide one, see `providerConnections`. */
  readonly dispatcher?: Dispatcher | undefined
}

/**
 * How long an idle connection to a provider is kept for the next request. A caller speaks every
 * few seconds, so Node's default (4 s, when the server sends no Keep-Alive hint, as OpenAI's
 * does not) closed it between most turns and every turn paid a new TCP (and TLS) handshake.
 * Below the idle timeouts of common front ends (nginx 75 s, cloud load balancers 60 s), so we
 * close first and a request never lands on a socket the server is closing.
 */
export const PROVIDER_KEEP_ALIVE_MS = 30_000
/** fetch()'s redirect limit (Fetch standard, "HTTP-redirect fetch"), as the SDK's fetch followed them. */
const MAX_REDIRECTS = 20
/** Enough of an error body for its message; a server that sends more is cut off there. */
const MAX_ERROR_BODY = 16 * 1024

let shared: ProviderPool | undefined

/**
 * The pool every OpenAI-compatible client shares: one set of kept-alive connections per
 * origin. Idle sockets do not hold the process open (undici unrefs them).
 */
export function providerConnections (): ProviderPool {
  shared ??= newProviderPool()
  return shared
}

/**
 * A keep-alive pool with our idle timeout (a server's shorter Keep-Alive hint wins), which can
 * open connections ahead of a request (warm-sockets.ts).
 */
export function newProviderPool (keepAliveMs = PROVIDER_KEEP_ALIVE_MS): ProviderPool {
  return new ProviderPool(keepAliveMs)
}

/** Close the shared pool's connections (shutdown); the next request opens a fresh pool. */
export async function closeProviderConnections (): Promise<void> {
  const pool = shared
  shared = undefined
  pool?.dropParked()
  // destroy, not close: close() waits for requests still open, and a hung one would hold shutdown.
  await pool?.destroy()
}

/** A non-2xx answer. `status` is what toProviderError maps to our code (errors.ts). */
export class HttpStatusError extends Error {
  readonly status: number
  /** The vendor's `error.message` (or the start of its body), for logs. */
  readonly vendorMessage: string

  constructor (status: number, vendorMessage: string) {
    super(`HTTP ${status}${vendorMessage === '' ? '' : `: ${vendorMessage}`}`)
    this.name = 'HttpStatusError'
    this.status = status
    this.vendorMessage = vendorMessage
  }
}

export interface PostOptions {
  /** Aborts the request, and destroys its socket when the response is still coming. */
  readonly signal: AbortSignal
  /** `content-type` of `body`. */
  readonly contentType: string
  /**
   * What the `openai` SDK sends, so a server tested against it sees the same: `application/json`
   * for chat completions (streamed too) and transcriptions, `application/octet-stream` for speech.
   */
  readonly accept: string
}

/** A 2xx response: its headers (lower-case names) and its body as the socket delivers it. */
export interface ProviderResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  /** Consume it to the end (the socket then goes back to the pool) or destroy it (the socket is closed). */
  readonly body: Dispatcher.ResponseData['body']
}

/**
 * The three requests of a turn (transcription, streamed chat completion, speech) straight on
 * undici's dispatcher API, with our keep-alive pool: no SDK, no WHATWG fetch, no web streams.
 * The `openai` SDK cost about as much client CPU again as the request itself (its request
 * building, SSE decoding and a web stream over the body; docs/benchmarks.md "CPU per AI turn").
 * There is no retry here: `withRetry` is the only retry loop, so the caller's deadline bounds the
 * total and a 401 is never repeated; the timeout is the caller's signal too.
 *
 * `accept-encoding: identity`: we do not decompress, and saying so keeps a compatible server
 * (or a proxy in front of one) that compresses by default from sending gzip we would read as
 * JSON or PCM. Redirects are followed as fetch followed them for the SDK (307/308 keep the
 * method and body).
 */
export class OpenAiHttp {
  readonly #base: URL
  readonly #basePath: string
  /** `URL.origin` is computed again at each read (node:internal/url): read once. */
  readonly #origin: string
  /** Request paths by endpoint (a handful), built once instead of per request. */
  readonly #paths = new Map<string, string>()
  readonly #auth: string | undefined
  readonly #dispatcher: Dispatcher | undefined
  /** The redirect interceptor over each pool, built once per pool (closeProviderConnections replaces the shared one). */
  readonly #redirecting = new WeakMap<Dispatcher, Dispatcher>()

  constructor (options: OpenAiClientOptions) {
    this.#base = new URL(options.baseUrl)
    this.#basePath = this.#base.pathname.replace(/\/+$/, '')
    this.#origin = this.#base.origin
    this.#auth = options.apiKey === undefined ? undefined : `Bearer ${options.apiKey}`
    this.#dispatcher = options.dispatcher
  }

  /**
   * POST `body` to `<baseUrl>/<path>`. Resolves with a 2xx response; rejects with an
   * HttpStatusError for any other status (its body read, so the socket is reused), or with the
   * transport's error (a reset, a refused connection, the signal's reason on an abort).
   */
  async post (path: string, body: string | Buffer, options: PostOptions): Promise<ProviderResponse> {
    const headers: Record<string, string> = {
      'content-type': options.contentType,
      accept: options.accept,
      'accept-encoding': 'identity',
      'user-agent': 'phone-agent',
    }
    // Keyless servers (Ollama, a local Whisper) get no Authorization header at all.
    if (this.#auth !== undefined) headers.authorization = this.#auth
    let fullPath = this.#paths.get(path)
    if (fullPath === undefined) {
      fullPath = `${this.#basePath}/${path}${this.#base.search}`
      this.#paths.set(path, fullPath)
    }
    const res = await this.#pool().request({
      origin: this.#origin,
      path: fullPath,
      method: 'POST',
      headers,
      body,
      signal: options.signal,
    })
    if (res.statusCode >= 200 && res.statusCode < 300) return { status: res.statusCode, headers: res.headers, body: res.body }
    throw new HttpStatusError(res.statusCode, await errorMessage(res.body))
  }

  /**
   * Open the connections a turn will use to this server, if the pool has none (after 30 s
   * without requests): TCP and TLS only, no request is sent. Call it when a call starts or a
   * turn begins listening, so the reply does not pay the handshakes.
   */
  preconnect (): void {
    const pool = this.#dispatcher ?? providerConnections()
    if (pool instanceof ProviderPool) pool.preconnect(this.#origin)
  }

  #pool (): Dispatcher {
    const pool = this.#dispatcher ?? providerConnections()
    let d = this.#redirecting.get(pool)
    if (d === undefined) {
      d = pool.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }))
      this.#redirecting.set(pool, d)
    }
    return d
  }
}

/**
 * Give up on a body not read to its end: the request is aborted and its socket closed (never
 * handed back to the pool mid-response). undici reports that abort as the body's `error`
 * event, which nobody is listening for any more.
 */
export function abandon (body: ProviderResponse['body']): void {
  if (body.readableEnded || body.destroyed) return
  body.on('error', () => {})
  body.destroy()
}

/** The vendor's `error.message` from an error body, else its first line; never throws. */
async function errorMessage (body: ProviderResponse['body']): Promise<string> {
  let text = ''
  try {
    for await (const chunk of body) {
      text += (chunk as Buffer).toString('utf8')
      if (text.length > MAX_ERROR_BODY) { abandon(body); break }
    }
  } catch {
    // A body cut short still has its status; the status is what counts.
  }
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message
    if (typeof message === 'string') return message.slice(0, 300)
  } catch {}
  return text.split('\n', 1)[0]?.slice(0, 300) ?? ''
}

/** A client for one OpenAI-compatible server (OpenAI, Groq, Ollama, vLLM, a Whisper server). */
export function createOpenAiClient (options: OpenAiClientOptions): OpenAiHttp {
  return new OpenAiHttp(options)
}
