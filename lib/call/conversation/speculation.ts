import { SentenceSplitter } from '../../agent/sentences.ts'
import { abortReason } from '../../errors.ts'
import type { ChatMessage, LlmDelta, LlmProvider, ToolDefinition } from '../../llm/types.ts'
import { AbortLink } from '../../providers/abort-link.ts'
import type { TurnMedia } from '../turn-media.ts'
import { EarlySentence } from './early-sentence.ts'

/** Rough size of a token, for estimating what a request cut before its usage report cost. */
const CHARS_PER_TOKEN = 4

export interface SpeculationOptions {
  readonly llm: LlmProvider
  readonly tools: readonly ToolDefinition[]
  /** The prompt as it will be if the words are the turn: the history plus the caller's words. */
  readonly messages: readonly ChatMessage[]
  readonly media: TurnMedia
  readonly language: string
  readonly voice: string | undefined
  readonly sentenceMaxChars: number
  /** The turn's signal: the speculation never outlives its turn. */
  readonly signal: AbortSignal
}

/** What a discarded speculation cost: billed by the vendors all the same. */
export interface SpeculationCost {
  readonly llmInputTokens: number
  readonly llmOutputTokens: number
  readonly ttsCharacters: number
}

/**
 * A preemptive reply: the model's answer to finished words heard at a short pause, requested
 * before the end of the turn is confirmed, with its first sentence's synthesis started as soon
 * as the sentence is complete. Nothing reaches the caller or the history from here: the deltas
 * are kept until the turn adopts them (the caller did stop, and the prompt is the one asked) or
 * the speculation is discarded (the caller went on), which aborts the request and the synthesis
 * and says what they cost (tokens a request used are billed even when its answer is thrown away).
 */
export class Speculation {
  readonly #messages: string
  /** Follows the turn's signal (which ends with the turn); aborted alone when discarded. */
  readonly #controller: AbortLink
  readonly #deltas: LlmDelta[] = []
  #done = false
  #error: unknown
  #wake: (() => void) | undefined
  #usage: { input: number, output: number } | undefined
  #chars = 0
  #ttsChars = 0
  #over = false
  /** Started before its end is confirmed, when it may be whole (see EarlySentence). */
  readonly #early: EarlySentence
  #first = true

  constructor (options: SpeculationOptions) {
    this.#messages = JSON.stringify(options.messages)
    this.#controller = new AbortLink([options.signal])
    const signal = this.#controller.signal
    const splitter = new SentenceSplitter({ language: options.language, maxChars: options.sentenceMaxChars })
    const early = this.#early = new EarlySentence({ ...options, signal })
    // The first sentence is synthesised ahead: the turn's own splitter yields the same one.
    const ahead = (sentence: string | undefined): void => {
      if (sentence === undefined) return
      this.#first = false
      const started = early.settle(sentence)
      this.#ttsChars = early.wasted
      if (options.media.prepareAhead === undefined) return
      this.#ttsChars += sentence.length
      if (!started) options.media.prepareAhead(sentence, { language: options.language, voice: options.voice }, signal)
    }
    void (async () => {
      try {
        for await (const delta of options.llm.stream(options.messages, { signal, tools: options.tools })) {
          this.#deltas.push(delta)
          if (delta.type === 'usage') this.#usage = { input: delta.inputTokens, output: delta.outputTokens }
          if (delta.type === 'text') {
            this.#chars += delta.text.length
            if (this.#first) ahead(splitter.push(delta.text)[0])
            if (this.#first) early.offer(splitter.pending)
          } else if ((delta.type === 'tool_call' || delta.type === 'text_end') && this.#first) {
            ahead(splitter.flush()[0])
          }
          this.#notify()
        }
        // A reply of one sentence is only split at its end (the splitter waits to see what follows).
        if (this.#first) ahead(splitter.flush()[0])
      } catch (err) {
        this.#error = err
      } finally {
        this.#done = true
        this.#notify()
      }
    })()
  }

  /**
   * The reply's deltas, if `messages` is the prompt this speculation asked with (else undefined:
   * the turn asks afresh and discards this one). Ownership passes: `signal` aborting aborts the
   * request, as for a request of the turn's own.
   */
  adopt (messages: readonly ChatMessage[], signal: AbortSignal): AsyncIterable<LlmDelta> | undefined {
    if (this.#over || JSON.stringify(messages) !== this.#messages) return undefined
    this.#over = true
    const onAbort = (): void => { this.#controller.abort(abortReason(signal)) }
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    return this.#replay(signal, () => { signal.removeEventListener('abort', onAbort) })
  }

  /** Abort it; what it used, to be billed. Undefined when it was adopted or already discarded. */
  discard (reason: Error): SpeculationCost | undefined {
    if (this.#over) return undefined
    this.#over = true
    this.#controller.abort(reason)
    // A first sentence started early and never confirmed was synthesised all the same.
    if (this.#first && !this.#early.settle(undefined)) this.#ttsChars = this.#early.wasted
    // A request that failed without an answer (an HTTP error) is not billed.
    const failed = this.#done && this.#deltas.length === 0 && this.#error !== undefined
    return {
      llmInputTokens: this.#usage?.input ?? (failed ? 0 : Math.ceil(this.#messages.length / CHARS_PER_TOKEN)),
      llmOutputTokens: this.#usage?.output ?? Math.ceil(this.#chars / CHARS_PER_TOKEN),
      ttsCharacters: this.#ttsChars,
    }
  }

  async * #replay (signal: AbortSignal, release: () => void): AsyncGenerator<LlmDelta> {
    try {
      for (let i = 0; ; i++) {
        while (i >= this.#deltas.length && !this.#done) {
          if (signal.aborted) throw abortReason(signal)
          await new Promise<void>((resolve) => { this.#wake = resolve })
        }
        if (signal.aborted) throw abortReason(signal)
        const delta = this.#deltas[i]
        if (delta === undefined) break
        yield delta
      }
      if (this.#error !== undefined) throw this.#error
    } finally {
      release()
    }
  }

  #notify (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}
