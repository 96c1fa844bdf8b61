import { SentenceSplitter } from '../../agent/sentences.ts'
import { routineAbort } from '../../errors.ts'
import { AbortLink } from '../../providers/abort-link.ts'
import type { TurnMedia } from '../turn-media.ts'

/** Held text that may be a whole sentence: it ends with a terminator (and closing quotes). */
const ENDS_SENTENCE = /[.!?…。！？]["'”’»)\]}」』]*$/u

export interface EarlySentenceOptions {
  readonly media: TurnMedia
  readonly language: string
  readonly voice: string | undefined
  readonly sentenceMaxChars: number
  /** The turn's (or the speculation's) signal: what starts here never outlives it. */
  readonly signal: AbortSignal
}

/**
 * A round's first sentence synthesised before its end is confirmed. The splitter holds a
 * sentence that ends a delta ("Certo.") until the next token shows what follows it ("3." may
 * become "3.5", "Dott." is followed by a name): a token later, 20-50 ms with a streaming model,
 * while the caller hears nothing. When the held text would split off as one whole sentence if a
 * new sentence followed (it does with " X" after it), its synthesis starts now
 * (`media.prepareAhead`), and the turn's own split, a token later, finds it under way. When the
 * words run on instead ("3." then "5 euro."), that synthesis is aborted and its characters are
 * counted as wasted (billed all the same).
 */
export class EarlySentence {
  readonly #o: EarlySentenceOptions
  #text: string | undefined
  #controller: AbortLink | undefined
  #settled = false
  /** Characters sent to synthesis for a sentence that was not the one said. */
  wasted = 0

  constructor (options: EarlySentenceOptions) {
    this.#o = options
  }

  /** The text started ahead, if any. */
  get started (): string | undefined { return this.#text }

  /** After a text delta that completed no sentence: `pending` is what the splitter holds. */
  offer (pending: string): void {
    const { media, language, voice, sentenceMaxChars, signal } = this.#o
    if (this.#settled || this.#text !== undefined || media.prepareAhead === undefined || signal.aborted) return
    const held = pending.trim()
    if (!ENDS_SENTENCE.test(held)) return
    const probe = new SentenceSplitter({ language, maxChars: sentenceMaxChars })
    const pieces = probe.push(`${held} X`)
    if (pieces.length !== 1 || probe.pending.trim() !== 'X') return
    const text = pieces[0] as string
    this.#text = text
    // Follows the turn's (or the speculation's) signal, which ends with the turn.
    this.#controller = new AbortLink([signal])
    media.prepareAhead(text, { language, voice }, this.#controller.signal)
  }

  /**
   * The round's first sentence as the splitter emitted it (undefined: the round ended without
   * one). True when it is the one already under way; otherwise that synthesis is stopped.
   */
  settle (sentence: string | undefined): boolean {
    if (this.#settled) return false
    this.#settled = true
    if (this.#text === undefined) return false
    if (sentence === this.#text) return true
    this.#controller?.abort(routineAbort('TURN_OVER', 'the sentence started early ran on'))
    this.wasted += this.#text.length
    return false
  }
}
