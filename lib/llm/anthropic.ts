import type Anthropic from '@anthropic-ai/sdk'
import type { Logger } from 'pino'
import { badResponse, toProviderError, type ErrorContext } from '../providers/errors.ts'
import type { ProviderQueue } from '../providers/queue.ts'
import { withRetry, createDeadline, type RetryPolicy } from '../providers/retry.ts'
import { providerConnections } from '../providers/openai-client.ts'
import { anthropicError } from './anthropic-errors.ts'
import { MessageEvents } from './anthropic-events.ts'
import { toAnthropicRequest } from './anthropic-format.ts'
import type { ChatMessage, LlmDelta, LlmProvider, LlmStreamOptions } from './types.ts'

/** The SDK's own request timeout runs this long past our deadline (see the call below). */
const SDK_TIMEOUT_SLACK_MS = 1000

type StreamEvent = Anthropic.Messages.RawMessageStreamEvent

export interface AnthropicLlmOptions {
  readonly client: Anthropic
  /** Configured name (`anthropic`, `claude-eu`): logs, usage lines, prices. */
  readonly name: string
  readonly model: string
  readonly temperature?: number | undefined
  /** The Messages API requires a bound on the reply (`max_tokens`). */
  readonly maxTokens: number
  readonly queue: ProviderQueue
  readonly retry: RetryPolicy
  /** The whole request, streamed body included. */
  readonly timeoutMs: number
  readonly log?: Logger | undefined
  readonly random?: () => number
}

/**
 * Claude through the native Messages API, streamed with SSE by the official SDK: native tool
 * use (the OpenAI-compatible endpoint drops features), usage with cache tokens, and the errors
 * Anthropic sends inside a 200 stream (`overloaded_error`) as our typed codes.
 *
 * The retry covers everything before the first delta our caller sees. Unlike OpenAI, Anthropic
 * opens every stream with `message_start` and may send `event: error` (overloaded) right after
 * it, so the first event is not yet output: events are read until one yields a delta.
 */
export class AnthropicLlm implements LlmProvider {
  readonly name: string
  readonly model: string
  readonly #o: AnthropicLlmOptions

  constructor (options: AnthropicLlmOptions) {
    this.#o = options
    this.name = options.name
    this.model = options.model
  }

  /** The API's connections opened ahead of the request, on the providers' pool (anthropic-client.ts). */
  preconnect (): void {
    providerConnections().preconnect(this.#o.client.baseURL)
  }

  async * stream (messages: readonly ChatMessage[], options: LlmStreamOptions): AsyncGenerator<LlmDelta> {
    const o = this.#o
    const deadline = createDeadline(options.signal, o.timeoutMs)
    const ctx: ErrorContext = { provider: o.name, operation: 'chat', signal: options.signal, deadline }
    const request = toAnthropicRequest(messages, options.tools)
    const temperature = options.temperature ?? o.temperature
    const body: Anthropic.Messages.MessageCreateParamsStreaming = {
      model: o.model,
      max_tokens: options.maxTokens ?? o.maxTokens,
      messages: request.messages,
      stream: true,
      ...(request.system === undefined ? {} : { system: request.system }),
      // Anthropic's range is 0..1, OpenAI's 0..2: a shared setting is clamped, not refused.
      ...(temperature === undefined ? {} : { temperature: Math.min(1, temperature) }),
      ...(request.tools === undefined ? {} : { tools: request.tools }),
    }
    /** Reads until the stream yields something or ends; a quiet end after an abort is the abort. */
    const read = async (it: AsyncIterator<StreamEvent>, events: MessageEvents): Promise<LlmDelta[]> => {
      for (;;) {
        let next: IteratorResult<StreamEvent>
        try {
          next = await it.next()
        } catch (err) {
          throw anthropicError(err, ctx)
        }
        if (next.done === true) {
          // The SDK ends the stream quietly when the request is aborted, so an abort is only
          // visible here; a stream that stops before message_stop was cut short.
          if (deadline.signal.aborted) throw toProviderError(new Error('aborted'), ctx)
          throw badResponse(ctx, 'stream ended before message_stop')
        }
        const deltas = events.push(next.value)
        if (deltas.length > 0 || events.done) return deltas
      }
    }

    let iterator: AsyncIterator<StreamEvent> | undefined
    let release: (() => void) | undefined
    try {
      const first = await withRetry(async (signal) => {
        const slot = await o.queue.acquire(signal)
        let it: AsyncIterator<StreamEvent> | undefined
        try {
          // Our deadline (in `signal`) ends the request; the SDK's own timer is only a backstop a
          // second later. Set to the same moment it sometimes fired first, and its abort, through
          // undici's fetch, surfaced as a connection error: PROVIDER_UNAVAILABLE for a timeout.
          const stream = await o.client.messages.create(body, { signal, timeout: Math.max(1, deadline.remainingMs()) + SDK_TIMEOUT_SLACK_MS })
          it = stream[Symbol.asyncIterator]()
          const events = new MessageEvents(ctx)
          const deltas = await read(it, events)
          return { it, events, deltas, slot }
        } catch (err) {
          await it?.return?.().catch(() => {})
          slot()
          throw anthropicError(err, ctx)
        }
      }, { provider: o.name, operation: 'chat', policy: o.retry, signal: options.signal, timeoutMs: o.timeoutMs, deadline, log: o.log, ...(o.random ? { random: o.random } : {}) })
      iterator = first.it
      release = first.slot
      const events = first.events
      let deltas = first.deltas
      for (;;) {
        for (const d of deltas) {
          if (d.type === 'usage') options.usage?.addLlm(o.name, o.model, d.inputTokens, d.outputTokens)
          yield d
        }
        if (events.done) break
        deltas = await read(iterator, events)
      }
    } finally {
      // An early `break` by our consumer lands here too: returning the SDK's iterator aborts
      // the HTTP request, so the socket is not left streaming into nothing.
      await iterator?.return?.().catch(() => {})
      release?.()
      deadline.dispose()
    }
  }
}
