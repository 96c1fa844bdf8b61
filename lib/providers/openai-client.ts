import type OpenAI from 'openai'
import { Agent, type Dispatcher } from 'undici'
import { leanFetch } from './lean-fetch.ts'
import { openAiSdk } from './openai-sdk.ts'

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

let shared: Agent | undefined

/**
 * The pool every OpenAI-compatible client shares: one set of kept-alive connections per
 * origin. Idle sockets do not hold the process open (undici unrefs them).
 */
export function providerConnections (): Agent {
  shared ??= newProviderPool()
  return shared
}

/** A keep-alive pool with our idle timeout (a server's shorter Keep-Alive hint wins). */
export function newProviderPool (keepAliveMs = PROVIDER_KEEP_ALIVE_MS): Agent {
  return new Agent({ keepAliveTimeout: keepAliveMs, keepAliveMaxTimeout: keepAliveMs })
}

/** Close the shared pool's connections (shutdown); the next request opens a fresh pool. */
export async function closeProviderConnections (): Promise<void> {
  const pool = shared
  shared = undefined
  // destroy, not close: close() waits for requests still open, and a hung one would hold shutdown.
  await pool?.destroy()
}

/**
 * The `openai` client with its own retries off: `withRetry` is the only retry loop, so the
 * caller's deadline bounds the total and a 401 is never repeated. Its timeout is ours too,
 * per request, through the signal we pass. Requests go through undici's dispatcher API
 * (lean-fetch.ts, not its WHATWG fetch: a third of a request's CPU) with our keep-alive pool:
 * an aborted streaming request destroys its own socket, never a pooled one.
 */
export function createOpenAiClient (options: OpenAiClientOptions): OpenAI {
  // The pool is looked up per request: closeProviderConnections() replaces the shared one.
  const fetchers = new WeakMap<Dispatcher, ReturnType<typeof leanFetch>>()
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const pool = options.dispatcher ?? providerConnections()
    let f = fetchers.get(pool)
    if (f === undefined) { f = leanFetch(pool); fetchers.set(pool, f) }
    return await f(url, init)
  }) as unknown as typeof globalThis.fetch
  return new (openAiSdk().OpenAI)({
    baseURL: options.baseUrl,
    // The client refuses an empty key; keyless servers ignore the Authorization header.
    apiKey: options.apiKey ?? 'no-key',
    maxRetries: 0,
    // The client logs unparsable SSE lines to the console; we report them as typed errors.
    logLevel: 'off',
    fetch,
  })
}
