import type { ProviderChain } from '../providers/failover.ts'
import type { ChatMessage, LlmDelta, LlmProvider, LlmStreamOptions } from './types.ts'

/**
 * The configured language models in order (`speech.llm.providers`), as one LlmProvider: a reply
 * goes to the first model whose breaker is closed and moves on while nothing has been streamed.
 */
export class FailoverLlm implements LlmProvider {
  readonly chain: ProviderChain<LlmProvider>

  constructor (chain: ProviderChain<LlmProvider>) {
    this.chain = chain
  }

  /** The model a request would go to now (records, usage, logs). */
  get name (): string { return this.chain.current.name }
  get model (): string { return this.chain.current.model }

  /** The provider a request would go to now; the others are dialled only if it fails. */
  preconnect (): void {
    this.chain.current.preconnect?.()
  }

  stream (messages: readonly ChatMessage[], options: LlmStreamOptions): AsyncIterable<LlmDelta> {
    return this.chain.stream((llm) => llm.stream(messages, options), options.signal)
  }
}
