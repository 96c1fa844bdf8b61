import type OpenAI from 'openai'
import type { Logger } from 'pino'
import { badResponse, toProviderError, type ErrorContext } from '../providers/errors.ts'
import type { ProviderQueue } from '../providers/queue.ts'
import { withRetry, createDeadline, type RetryPolicy } from '../providers/retry.ts'
import type { ChatMessage, LlmDelta, LlmProvider, LlmStreamOptions } from './types.ts'

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk

export interface OpenAiLlmOptions {
  readonly client: OpenAI
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
 * object"). They are joined by index and yielded whole when the choice finishes.
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

  async * stream (messages: readonly ChatMessage[], options: LlmStreamOptions): AsyncGenerator<LlmDelta> {
    const o = this.#o
    const deadline = createDeadline(options.signal, o.timeoutMs)
    const ctx: ErrorContext = { provider: o.name, operation: 'chat', signal: options.signal, deadline: deadline.timer }
    const temperature = options.temperature ?? o.temperature
    const maxTokens = options.maxTokens ?? o.maxTokens
    const body: OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming = {
      model: o.model,
      // Our message type is the wire format with readonly fields; the shapes are identical.
      messages: messages as unknown as OpenAI.Chat.Completions.ChatCompletionMessageParam[],
      stream: true,
      stream_options: { include_usage: true },
      ...(temperature === undefined ? {} : { temperature }),
      ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
      ...(options.tools === undefined || options.tools.length === 0 ? {} : { tools: options.tools as OpenAI.Chat.Completions.ChatCompletionTool[] }),
    }

    let iterator: AsyncIterator<Chunk> | undefined
    let release: (() => void) | undefined
    try {
      // Retry covers connecting and the first chunk: until then nothing reached the caller.
      const first = await withRetry(async (signal) => {
        const slot = await o.queue.acquire(signal)
        try {
          const stream = await o.client.chat.completions.create(body, { signal, timeout: Math.max(1, deadline.remainingMs()) })
          const it = stream[Symbol.asyncIterator]()
          const result = await it.next()
          return { it, result, slot }
        } catch (err) {
          slot()
          throw err
        }
      }, { provider: o.name, operation: 'chat', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, deadline, log: o.log, ...(o.random ? { random: o.random } : {}) })
      iterator = first.it
      release = first.slot

      const calls = new Map<number, PendingToolCall>()
      let finished = false
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
          if (typeof text === 'string' && text.length > 0) yield { type: 'text', text }
          for (const tc of choice.delta?.tool_calls ?? []) {
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
      // The client ends the stream quietly when the request is aborted, so an abort is only
      // visible here; a stream that stops without a finish_reason was cut short.
      if (deadline.signal.aborted) throw toProviderError(new Error('aborted'), ctx)
      if (!finished) throw badResponse(ctx, 'stream ended without a finish_reason')
    } finally {
      // An early `break` by our consumer lands here too: returning the client's iterator aborts
      // the HTTP request, so the socket is not left streaming into nothing.
      await iterator?.return?.().catch(() => {})
      release?.()
      deadline.dispose()
    }
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
