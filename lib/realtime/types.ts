import type { Logger } from 'pino'
import type { PhoneAgentError } from '../errors.ts'

/**
 * A speech-to-speech vendor session (OpenAI Realtime, Gemini Live) behind one small interface:
 * the call side (conversation.ts) sends the caller's audio and tool results, and reads one
 * ordered stream of events. Each vendor file maps its own wire protocol onto these events and
 * never leaks a vendor type past it.
 */

/** A function the model may call, in the vendor-neutral JSON-schema form of agent/tools.ts. */
export interface RealtimeTool {
  readonly name: string
  readonly description: string
  readonly parameters: Readonly<Record<string, unknown>>
}

export interface RealtimeOpenOptions {
  readonly instructions: string
  readonly tools: readonly RealtimeTool[]
  /** BCP-47 tag: the caller's language (transcription hint, Gemini's speech language). */
  readonly language: string
  readonly voice?: string | undefined
  /** Session set-up must finish within this (socket open + the vendor's acknowledgement). */
  readonly openTimeoutMs: number
  /** The call's signal: aborting it closes the socket. */
  readonly signal: AbortSignal
  readonly log: Logger
}

export type RealtimeEvent =
  /** Agent speech at the session's `outputRate`; `item` names the vendor's response item. */
  | { readonly type: 'audio', readonly pcm: Int16Array, readonly item: string }
  /** Text of what the agent is saying (the vendor's transcription of its own audio), a piece at a time. */
  | { readonly type: 'agent-text', readonly text: string, readonly item: string }
  /** What the caller said, as the vendor transcribed it; `final` when the utterance is complete. */
  | { readonly type: 'caller-text', readonly text: string, readonly final: boolean }
  /** The vendor's voice detector heard the caller start talking (a barge-in if we are speaking). */
  | { readonly type: 'speech-started' }
  /** ... and stop: from here the caller is owed an answer. */
  | { readonly type: 'speech-stopped' }
  /** The vendor abandoned its reply because the caller spoke (Gemini's `interrupted`). */
  | { readonly type: 'interrupted' }
  /** The model calls a tool; `args` is the raw JSON text (validated by agent/tools.ts, never trusted). */
  | { readonly type: 'tool-call', readonly id: string, readonly name: string, readonly args: string }
  /** A reply ended; usage is the tokens it consumed, when the vendor reports them. */
  | { readonly type: 'response-done', readonly usage?: RealtimeUsage | undefined }
  /** The vendor reported a problem with one request; the session goes on. */
  | { readonly type: 'vendor-error', readonly code: string, readonly message: string }

export interface RealtimeUsage {
  readonly inputTokens: number
  readonly outputTokens: number
}

export interface RealtimeSession {
  /** Rate of the PCM `sendAudio` expects (OpenAI 24 kHz, Gemini 16 kHz). */
  readonly inputRate: number
  /** Rate of the PCM in `audio` events (24 kHz for both). */
  readonly outputRate: number
  /**
   * Every event in order. Ends when we close the session; rejects with a PhoneAgentError when
   * the vendor closes it, the connection breaks or a message cannot be read.
   */
  readonly events: AsyncIterable<RealtimeEvent>
  /** Mono s16 samples at `inputRate` (20 ms at a time). Ignored once closed. */
  sendAudio (pcm: Int16Array): void
  /** Tell the model what was already said to the caller (the pre-rendered greeting). */
  sayContext (agentText: string): void
  /** The result of a tool call; `respond`: the model should go on speaking after it. */
  sendToolResult (id: string, name: string, output: string, respond: boolean): void
  /**
   * The caller interrupted `item` after hearing `playedMs` of it: the vendor forgets the rest
   * (OpenAI truncates the item; Gemini already knows, from its own `interrupted`).
   */
  truncate (item: string, playedMs: number): void
  close (): void
}

export interface RealtimeVendor {
  /** Name for logs, records and the price table (`openai`, `gemini`). */
  readonly name: string
  readonly model: string
  open (options: RealtimeOpenOptions): Promise<RealtimeSession>
}

/** The failure that ended a session: always a PhoneAgentError (PROVIDER_*). */
export type RealtimeFailure = PhoneAgentError
