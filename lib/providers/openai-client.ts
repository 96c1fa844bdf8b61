import OpenAI from 'openai'

export interface OpenAiClientOptions {
  readonly baseUrl: string
  /** Undefined for servers that take no key (Ollama, a local Whisper server). */
  readonly apiKey: string | undefined
}

/**
 * The `openai` client with its own retries off: `withRetry` is the only retry loop, so the
 * caller's deadline bounds the total and a 401 is never repeated. Its timeout is ours too,
 * per request, through the signal we pass.
 */
export function createOpenAiClient (options: OpenAiClientOptions): OpenAI {
  return new OpenAI({
    baseURL: options.baseUrl,
    // The client refuses an empty key; keyless servers ignore the Authorization header.
    apiKey: options.apiKey ?? 'no-key',
    maxRetries: 0,
    // The client logs unparsable SSE lines to the console; we report them as typed errors.
    logLevel: 'off',
  })
}
