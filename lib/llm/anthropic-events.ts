import type Anthropic from '@anthropic-ai/sdk'
import { badResponse, type ErrorContext } from '../providers/errors.ts'
import type { LlmDelta } from './types.ts'

type StreamEvent = Anthropic.Messages.RawMessageStreamEvent

type Block =
  | { readonly kind: 'text' }
  | { readonly kind: 'tool', readonly id: string, readonly name: string, json: string, readonly input: unknown, closed: boolean }
  | { readonly kind: 'other' }

/**
 * The Messages SSE stream, one event at a time, as our deltas (Messages API "Streaming
 * Messages"): `message_start` (input tokens), then per content block `content_block_start`,
 * `content_block_delta` (`text_delta`, or `input_json_delta` pieces of a tool's input JSON),
 * `content_block_stop`; then `message_delta` (stop_reason, cumulative output tokens) and
 * `message_stop`. `ping` and `error` never reach us: the SDK skips pings and throws on errors.
 * Tool calls are held until the message's stop_reason, as with OpenAI's finish_reason, so a
 * call is only acted on once the model has finished writing every call of the message.
 */
export class MessageEvents {
  readonly #ctx: ErrorContext
  readonly #blocks = new Map<number, Block>()
  #inputTokens = 0
  #outputTokens = 0
  #stopped = false
  #done = false

  constructor (ctx: ErrorContext) {
    this.#ctx = ctx
  }

  /** `message_stop` arrived: the stream is complete. */
  get done (): boolean { return this.#done }
  get inputTokens (): number { return this.#inputTokens }
  get outputTokens (): number { return this.#outputTokens }

  push (event: StreamEvent): LlmDelta[] {
    switch (event.type) {
      case 'message_start':
        this.#usage(event.message.usage)
        return []
      case 'content_block_start': {
        const b = event.content_block
        if (b.type === 'text') {
          this.#blocks.set(event.index, { kind: 'text' })
          return b.text === '' ? [] : [{ type: 'text', text: b.text }]
        }
        if (b.type === 'tool_use') {
          if (b.name === '') throw badResponse(this.#ctx, `tool_use block ${event.index} has no name`)
          this.#blocks.set(event.index, { kind: 'tool', id: b.id, name: b.name, json: '', input: b.input, closed: false })
        } else {
          // Thinking and server-tool blocks are not spoken and carry nothing for our tools.
          this.#blocks.set(event.index, { kind: 'other' })
        }
        return []
      }
      case 'content_block_delta': {
        const block = this.#blocks.get(event.index)
        if (block === undefined) throw badResponse(this.#ctx, `delta for block ${event.index}, which never started`)
        const d = event.delta
        if (d.type === 'text_delta') {
          if (block.kind !== 'text') throw badResponse(this.#ctx, `text_delta for block ${event.index}, which is not text`)
          return d.text === '' ? [] : [{ type: 'text', text: d.text }]
        }
        if (d.type === 'input_json_delta') {
          if (block.kind !== 'tool') throw badResponse(this.#ctx, `input_json_delta for block ${event.index}, which is not a tool call`)
          block.json += d.partial_json
        }
        return []
      }
      case 'content_block_stop': {
        const block = this.#blocks.get(event.index)
        if (block?.kind === 'tool') block.closed = true
        return []
      }
      case 'message_delta':
        this.#usage(event.usage)
        if (event.delta.stop_reason !== null && event.delta.stop_reason !== undefined) {
          this.#stopped = true
          return this.#calls()
        }
        return []
      case 'message_stop': {
        this.#done = true
        // A stream without message_delta still ends its calls here.
        const calls = this.#stopped ? [] : this.#calls()
        return [...calls, { type: 'usage', inputTokens: this.#inputTokens, outputTokens: this.#outputTokens }]
      }
      default:
        return []
    }
  }

  /** Input counts every prompt token: fresh, written to the cache and read from it. */
  #usage (u: { input_tokens?: number | null, output_tokens?: number | null, cache_creation_input_tokens?: number | null, cache_read_input_tokens?: number | null } | null | undefined): void {
    if (u === null || u === undefined) return
    // message_delta's counts are cumulative (the API reference says so), so the last one wins.
    if (typeof u.input_tokens === 'number') this.#inputTokens = u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0)
    if (typeof u.output_tokens === 'number') this.#outputTokens = u.output_tokens
  }

  #calls (): LlmDelta[] {
    const out: LlmDelta[] = []
    for (const index of [...this.#blocks.keys()].sort((a, b) => a - b)) {
      const block = this.#blocks.get(index)
      if (block?.kind !== 'tool') continue
      if (!block.closed) throw badResponse(this.#ctx, `tool_use block ${index} never stopped`)
      // A call without arguments may send no input_json_delta at all: its input is then the
      // (empty) object of content_block_start.
      const args = block.json !== '' ? block.json : JSON.stringify(block.input ?? {})
      out.push({ type: 'tool_call', id: block.id === '' ? `toolu_${index}` : block.id, name: block.name, arguments: args })
      this.#blocks.delete(index)
    }
    return out
  }
}
