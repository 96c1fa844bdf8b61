import type Anthropic from '@anthropic-ai/sdk'
import { fetch as undiciFetch } from 'undici'
import { providerConnections } from '../providers/openai-client.ts'
import { anthropicSdk } from './anthropic-sdk.ts'

export interface AnthropicClientOptions {
  /** `https://api.anthropic.com` or, in tests, a loopback fake; the SDK appends `/v1/messages`. */
  readonly baseUrl: string
  readonly apiKey: string
}

/**
 * The official `@anthropic-ai/sdk` client with its own retries off: `withRetry` is the only
 * retry loop, so the caller's deadline bounds the total and a 401 is never repeated. Key and base
 * URL are always passed, so the SDK never falls back to ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL
 * from the environment (client.ts constructor: a credential passed in code is the only one).
 */
export function createAnthropicClient (options: AnthropicClientOptions): Anthropic {
  return new (anthropicSdk().Anthropic)({
    baseURL: options.baseUrl,
    apiKey: options.apiKey,
    maxRetries: 0,
    // The SDK logs unparsable SSE lines to its logger; we report them as typed errors.
    logLevel: 'off',
    // undici's fetch on the providers' pool, asked for per request (shutdown replaces the pool):
    // Node's own fetch keeps an idle connection 4 s, so a turn after a pause paid a new TCP and
    // TLS handshake to the API; the pool keeps it 30 s and can pre-connect (warm-sockets.ts).
    fetch: (async (input: string | URL | Request, init?: RequestInit) =>
      await undiciFetch(input as never, { ...(init as object), dispatcher: providerConnections() } as never)) as unknown as typeof fetch,
  })
}
