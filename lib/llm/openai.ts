import type { Logger } from 'pino'
import { badResponse, toProviderError, type ErrorContext } from '../providers/errors.ts'
import { abandon, type OpenAiHttp, type ProviderResponse } from '../providers/openai-client.ts'
import type { ProviderQueue } from '../providers/queue.ts'
import { withRetry, createDeadline, type RetryPolicy } from '../providers/retry.ts'
import { sseEvents } from '../providers/sse.ts'
import type { ChatMessage, LlmDelta, LlmProvider, LlmStreamOptions } from './types.ts'

/** The fields of a chat completion chunk we read (OpenAI API reference, "The chat completion chunk object"). */
interface Chunk {
  readonly choices?: ReadonlyArray<{
    readonly delta?: {
      readonly content?: string | null
      readonly tool_calls?: ReadonlyArray<{ readonly index: number, readonly id?: string, readonly function?: { readonly name?: string, readonly arguments?: string } }>
    }
    readonly finish_reason?: string | null
  }>
  readonly usage?: { readonly prompt_tokens?: number, readonly completion_tokens?: number } | null
  readonly error?: unknown
}

export interface OpenAiLlmOptions {
  readonly client: OpenAiHttp
  /** Configured name (`openai`, `groq`, `ollama`): logs, usage lines, prices. */
  readonly name: string
  readonly model: string
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
  readonly queue: ProviderQueue
  readonly retry: RetryPolicy
  /** The whole request, streamed body included. */
  readonly timeoutMs: number
  readonly log?: Logger | undefined
  readonly random?: () => number
}

interface PendingToolCall { id: string, name: string, arguments: string }

/**
 * Chat completions over any OpenAI-compatible endpoint, streamed with SSE.
 *
 * Tool calls arrive in pieces: the first delta for an `index` carries `id` and `function.name`,
 * later ones append to `function.arguments` (OpenAI API reference, "The chat completion chunk
 * object"). They are joined by index and yielded whole when the choice finishes; the text
 * before them is over at their first chunk, and a `text_end` says so then, so the reply's last
 * sentence is spoken while the model is still writing the call's arguments.
 */
export class OpenAiLlm implements LlmProvider {
  readonly name: string
  readonly model: string
  readonly #o: OpenAiLlmOptions

  constructor (options: OpenAiLlmOptions) {
    this.#o = options
    this.name = options.name
    this.model = options.model
  }

  preconnect (): void {
    this.#o.client.preconnect()
  }

  async * stream (messages: readonly ChatMessage[], options: LlmStreamOptions): AsyncGenerator<LlmDelta> {
    const o = this.#o
    const deadline = createDeadline(options.signal, o.timeoutMs)
    const ctx: ErrorContext = { provider: o.name, operation: 'chat', signal: options.signal, deadline }
    const temperature = options.temperature ?? o.temperature
    const maxTokens = options.maxTokens ?? o.maxTokens
    const json = JSON.stringify({
      model: o.model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      ...(temperature === undefined ? {} : { temperature }),
      ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
      ...(options.tools === undefined || options.tools.length === 0 ? {} : { tools: options.tools }),
    })

    let body: ProviderResponse['body'] | undefined
    let iterator: AsyncIterator<Chunk> | undefined
    let release: (() => void) | undefined
    try {
      // Retry covers connecting and the first chunk: until then nothing reached the caller.
      const first = await withRetry(async (signal) => {
        const slot = await o.queue.acquire(signal)
        let res: ProviderResponse | undefined
        try {
          res = await o.client.post('chat/completions', json, { signal, contentType: 'application/json', accept: 'application/json' })
          const it = chatChunks(res.body, ctx)[Symbol.asyncIterator]()
          return { body: res.body, it, result: await it.next(), slot }
        } catch (err) {
          if (res !== undefined) abandon(res.body)
          slot()
          throw err
        }
      }, { provider: o.name, operation: 'chat', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, deadline, log: o.log, ...(o.random ? { random: o.random } : {}) })
      body = first.body
      iterator = first.it
      release = first.slot

      const calls = new Map<number, PendingToolCall>()
      let finished = false
      let texted = false
      let result = first.result
      while (result.done !== true) {
        const chunk = result.value
        if (chunk.usage) {
          const input = chunk.usage.prompt_tokens ?? 0
          const output = chunk.usage.completion_tokens ?? 0
          options.usage?.addLlm(o.name, o.model, input, output)
          yield { type: 'usage', inputTokens: input, outputTokens: output }
        }
        // One choice is all we ask for (n defaults to 1); a second would be a server bug.
        const choice = chunk.choices?.[0]
        if (choice !== undefined) {
          const text = choice.delta?.content
          if (typeof text === 'string' && text.length > 0) {
            texted = true
            yield { type: 'text', text }
          }
          for (const tc of choice.delta?.tool_calls ?? []) {
            if (texted) {
              texted = false
              yield { type: 'text_end' }
            }
            const pending = calls.get(tc.index) ?? { id: '', name: '', arguments: '' }
            if (tc.id) pending.id = tc.id
            if (tc.function?.name) pending.name += tc.function.name
            if (tc.function?.arguments) pending.arguments += tc.function.arguments
            calls.set(tc.index, pending)
          }
          if (choice.finish_reason) {
            finished = true
            yield * completedCalls(calls, ctx)
          }
        }
        try {
          result = await iterator.next()
        } catch (err) {
          throw toProviderError(err, ctx)
        }
      }
      if (deadline.signal.aborted) throw toProviderError(new Error('aborted'), ctx)
      if (!finished) throw badResponse(ctx, 'stream ended without a finish_reason')
    } finally {
      // An early `break` by our consumer lands here too: destroying a body not read to its end
      // aborts the HTTP request and closes its socket, so nothing streams into nothing and the
      // socket is never handed back to the pool mid-response.
      await iterator?.return?.().catch(() => {})
      if (body !== undefined) abandon(body)
      release?.()
      deadline.dispose()
    }
  }
}

/**
 * The stream's chunks: SSE `data:` JSON up to `[DONE]` (the body is still read to its end, so the
 * socket goes back to the pool). Malformed JSON throws the SyntaxError (PROVIDER_BAD_RESPONSE);
 * an `error` object inside the 200 stream (a server that failed after its headers) is a bad
 * response too, as the SDK reported it.
 */
async function * chatChunks (body: ProviderResponse['body'], ctx: ErrorContext): AsyncGenerator<Chunk> {
  let done = false
  for await (const event of sseEvents(body)) {
    if (done) continue
    if (event.data.startsWith('[DONE]')) { done = true; continue }
    const chunk = JSON.parse(event.data) as Chunk | null
    if (chunk === null || typeof chunk !== 'object') throw badResponse(ctx, 'a stream event that is not an object')
    if (chunk.error !== undefined && chunk.error !== null) throw badResponse(ctx, 'error inside the response stream')
    yield chunk
  }
}

function * completedCalls (calls: Map<number, PendingToolCall>, ctx: ErrorContext): Generator<LlmDelta> {
  for (const index of [...calls.keys()].sort((a, b) => a - b)) {
    const call = calls.get(index)
    if (call === undefined) continue
    if (call.name === '') throw badResponse(ctx, `tool call ${index} has no function name`)
    yield { type: 'tool_call', id: call.id === '' ? `call_${index}` : call.id, name: call.name, arguments: call.arguments }
  }
  calls.clear()
}
