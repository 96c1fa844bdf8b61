import type { UsageMeter } from '../providers/usage.ts'

/**
 * The LLM interface: a streamed chat completion. Messages are in OpenAI chat format because
 * every provider we target speaks it (OpenAI, Groq, Gemini and Anthropic compatibility
 * endpoints, Ollama, vLLM).
 */

export interface ToolCallRef {
  readonly id: string
  readonly type: 'function'
  readonly function: { readonly name: string, readonly arguments: string }
}

export type ChatMessage =
  | { readonly role: 'system', readonly content: string }
  | { readonly role: 'user', readonly content: string }
  | { readonly role: 'assistant', readonly content: string | null, readonly tool_calls?: readonly ToolCallRef[] }
  | { readonly role: 'tool', readonly tool_call_id: string, readonly content: string }

export interface ToolDefinition {
  readonly type: 'function'
  readonly function: {
    readonly name: string
    readonly description?: string
    /** JSON Schema of the arguments object. */
    readonly parameters: Readonly<Record<string, unknown>>
  }
}

export type LlmDelta =
  | { readonly type: 'text', readonly text: string }
  /** Yielded once the call is complete; `arguments` is the JSON text as the model wrote it. */
  | { readonly type: 'tool_call', readonly id: string, readonly name: string, readonly arguments: string }
  | { readonly type: 'usage', readonly inputTokens: number, readonly outputTokens: number }
  /**
   * The text before a tool call is over (sent at the call's first piece, when text came before
   * it): a consumer speaks what it still holds instead of waiting for the call to be written.
   */
  | { readonly type: 'text_end' }

export interface LlmStreamOptions {
  readonly signal?: AbortSignal | undefined
  readonly tools?: readonly ToolDefinition[] | undefined
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
  readonly usage?: UsageMeter | undefined
}

export interface LlmProvider {
  readonly name: string
  readonly model: string
  /**
   * Text deltas as they arrive, tool calls once complete, usage last when the server reports it.
   * Rejects with a PhoneAgentError; a failure before the first delta is retried within the
   * deadline, one after it is not (the caller has already acted on the text).
   */
  stream (messages: readonly ChatMessage[], options: LlmStreamOptions): AsyncIterable<LlmDelta>
  /**
   * Open the connections a request will need, sending nothing (a call starts, a turn begins
   * listening), so the reply does not pay the handshakes; a no-op when they are open.
   */
  preconnect? (): void
}
