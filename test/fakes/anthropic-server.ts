import { FakeOpenAiServer, type RecordedRequest } from './openai-server.ts'

/**
 * A loopback server speaking the Anthropic Messages wire protocol, enough for the official
 * `@anthropic-ai/sdk`: `POST /v1/messages` answered with named SSE events
 * (`event: <type>\ndata: <json>\n\n`, Messages API "Streaming Messages": message_start,
 * content_block_start / _delta / _stop, message_delta, message_stop, ping, error) or with an
 * HTTP error body `{type: 'error', error: {type, message}}` (API "Errors"). The HTTP plumbing
 * (scripted replies, delays, resets, connection counting) is the OpenAI fake's.
 */

export type AnthropicEvent = { readonly type: string } & Record<string, unknown>

export type AnthropicReply =
  | { readonly kind: 'events', readonly events: readonly AnthropicEvent[], readonly delayMs?: number, readonly firstDelayMs?: number,
    /** Reset the connection after this many events. */
    readonly destroyAfter?: number,
    /** Written after the events as they are (malformed data). */
    readonly raw?: readonly string[] }
  | { readonly kind: 'error', readonly status: number, readonly type: string, readonly message?: string }
  | { readonly kind: 'hang' }

export const MESSAGES = '/v1/messages'

export class FakeAnthropicServer {
  readonly #http: FakeOpenAiServer

  private constructor (http: FakeOpenAiServer) {
    this.#http = http
  }

  static async start (): Promise<FakeAnthropicServer> {
    return new FakeAnthropicServer(await FakeOpenAiServer.start())
  }

  /** What goes in `baseUrl`: the SDK appends `/v1/messages` itself. */
  get baseUrl (): string { return this.#http.baseUrl.replace(/\/v1$/, '') }
  get requests (): readonly RecordedRequest[] { return this.#http.requests }
  get openConnections (): number { return this.#http.openConnections }
  get clientAborts (): number { return this.#http.clientAborts }
  whenNoConnections (): Promise<void> { return this.#http.whenNoConnections() }
  close (): Promise<void> { return this.#http.close() }

  /** Queue replies for the next requests, used in order. */
  reply (...replies: AnthropicReply[]): void {
    this.#http.reply(MESSAGES, ...replies.map((r) => {
      switch (r.kind) {
        case 'hang': return r
        case 'error':
          return { kind: 'json', status: r.status, body: { type: 'error', error: { type: r.type, message: r.message ?? r.type } } } as const
        case 'events':
          return {
            kind: 'sse',
            chunks: [],
            raw: [...r.events.map(sse), ...(r.raw ?? [])],
            // No `data: [DONE]`: Messages streams end with message_stop and the connection.
            done: false,
            ...(r.delayMs === undefined ? {} : { delayMs: r.delayMs }),
            ...(r.firstDelayMs === undefined ? {} : { firstDelayMs: r.firstDelayMs }),
            ...(r.destroyAfter === undefined ? {} : { destroyAfter: r.destroyAfter }),
          } as const
      }
    }))
  }
}

export function sse (event: AnthropicEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`
}

/** Event builders with the fields the API sends. */
export const ev = {
  messageStart: (inputTokens = 10, model = 'claude-test'): AnthropicEvent => ({
    type: 'message_start',
    message: {
      id: 'msg_fake', type: 'message', role: 'assistant', content: [], model, stop_reason: null, stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    },
  }),
  textStart: (index: number): AnthropicEvent => ({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }),
  text: (index: number, text: string): AnthropicEvent => ({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }),
  toolStart: (index: number, id: string, name: string): AnthropicEvent => ({ type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } }),
  json: (index: number, partialJson: string): AnthropicEvent => ({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partialJson } }),
  stop: (index: number): AnthropicEvent => ({ type: 'content_block_stop', index }),
  messageDelta: (stopReason: string, outputTokens: number): AnthropicEvent => ({ type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } }),
  messageStop: (): AnthropicEvent => ({ type: 'message_stop' }),
  ping: (): AnthropicEvent => ({ type: 'ping' }),
  error: (type: string, message = type): AnthropicEvent => ({ type: 'error', error: { type, message } }),
}

/** A whole reply that says `text` (in the pieces given) and ends the turn. */
export function textReply (pieces: readonly string[], usage = { input: 10, output: 5 }): AnthropicEvent[] {
  return [ev.messageStart(usage.input), ev.textStart(0), ev.ping(), ...pieces.map((p) => ev.text(0, p)), ev.stop(0), ev.messageDelta('end_turn', usage.output), ev.messageStop()]
}

/** A reply that calls one tool (its input JSON in `jsonPieces`), optionally after some text. */
export function toolReply (id: string, name: string, jsonPieces: readonly string[], before = '', usage = { input: 10, output: 5 }): AnthropicEvent[] {
  const text = before === '' ? [] : [ev.textStart(0), ev.text(0, before), ev.stop(0)]
  const index = before === '' ? 0 : 1
  return [ev.messageStart(usage.input), ...text, ev.toolStart(index, id, name), ...jsonPieces.map((p) => ev.json(index, p)), ev.stop(index),
    ev.messageDelta('tool_use', usage.output), ev.messageStop()]
}
