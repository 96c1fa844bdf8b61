/**
 * Incremental sentence splitting for streamed LLM text, so each sentence can go to TTS while the
 * model keeps writing.
 *
 * A boundary is decided only once enough text has arrived to be sure of it: after `.` we wait
 * for the next word, because `3.` may become `3.5`, `Mr.` is followed by a name and `etc.` may be
 * mid-sentence. The result is therefore the same however the stream is chunked, and `flush()` at
 * the end of the stream releases what is still held back. Wrongly holding a boundary back only
 * costs a little latency; wrongly splitting makes TTS mispronounce, so doubtful cases do not split.
 *
 * Markup and emoji are stripped from what we emit by default: the text is spoken, and a TTS
 * engine either reads `**` and `#` aloud ("asterisk asterisk") or trips over pictographs.
 */

export interface SentenceSplitterOptions {
  /** BCP-47 tag (`it-IT`, `de`, `en-US`); selects the abbreviation list. Default English. */
  readonly language?: string | undefined
  /**
   * A sentence longer than this is cut at a clause boundary (`,` `;` `:` or a spaced dash) so TTS
   * can start early. Default 150 characters.
   */
  readonly maxChars?: number | undefined
  /** With no clause boundary at all, cut at a space once the text passes this. Default 2 x maxChars. */
  readonly hardMaxChars?: number | undefined
  /** Strip markdown and emoji from emitted sentences. Default true (the text is spoken). */
  readonly stripMarkup?: boolean | undefined
}

/** Titles are always followed by a name, so a `.` after one never ends a sentence. */
const COMMON_NO_BREAK = ['mr', 'mrs', 'ms', 'dr', 'prof', 'st', 'vs', 'cf', 'ca', 'approx', 'nr', 'no', 'tel', 'fig']
const NO_BREAK: Readonly<Record<string, readonly string[]>> = {
  en: ['jr', 'sr', 'mt', 'ft', 'dept', 'est', 'apt'],
  it: ['dott', 'sig', 'sigg', 'sig.ra', 'sig.na', 'dott.ssa', 'ing', 'avv', 'geom', 'rag', 'arch', 'egr', 'gent',
    'gent.mo', 'gent.ma', 'spett', 'pag', 'pagg', 'n', 'es', 'tab', 'cap', 'art', 'rif', 'c.a', 'p.es', 'v', 'vd'],
  de: ['hr', 'hrn', 'fr', 'str', 'bzw', 'ggf', 'evtl', 'inkl', 'exkl', 'zzgl', 'abs', 'vgl', 'ca', 'geb', 'tel', 'bspw'],
}
// "no." is a word in English ("I said no. Then...") and only a number sign in Italian/German.
const WORD_IN: Readonly<Record<string, readonly string[]>> = { en: ['no'] }

const TERMINATOR = /[.!?…。！？]/u
const FULL_WIDTH_TERMINATOR = /[。！？]/u
const CLOSER = /["'”’»)\]}」』]/u
const OPENER = /^["'“‘«(\[{]+/u
const LOWERCASE = /\p{Ll}/u
const SPACE = /\s/u
const SPEAKABLE = /[\p{L}\p{N}]/u
const EMOJI = '[\\p{Extended_Pictographic}\\u{1F3FB}-\\u{1F3FF}\\u{FE0F}\\u{200D}\\u{20E3}]'

export class SentenceSplitter {
  readonly #noBreak: ReadonlySet<string>
  readonly #german: boolean
  readonly #maxChars: number
  readonly #hardMaxChars: number
  readonly #strip: boolean
  #buf = ''

  constructor (options: SentenceSplitterOptions = {}) {
    const lang = (options.language ?? 'en').toLowerCase().split('-')[0] ?? 'en'
    const words = new Set([...COMMON_NO_BREAK, ...(NO_BREAK[lang] ?? [])])
    for (const w of WORD_IN[lang] ?? []) words.delete(w)
    this.#noBreak = words
    this.#german = lang === 'de'
    this.#maxChars = Math.max(20, options.maxChars ?? 150)
    this.#hardMaxChars = Math.max(this.#maxChars, options.hardMaxChars ?? this.#maxChars * 2)
    this.#strip = options.stripMarkup ?? true
  }

  /** Add a delta; returns the sentences it completed (possibly none). */
  push (delta: string): string[] {
    this.#buf += delta
    return this.#drain(false)
  }

  /** End of stream: returns everything still held back. The splitter can be reused afterwards. */
  flush (): string[] {
    return this.#drain(true)
  }

  /** Drop held-back text (barge-in: the rest of the reply will never be spoken). */
  reset (): void {
    this.#buf = ''
  }

  /** Text received but not yet emitted. */
  get pending (): string {
    return this.#buf
  }

  #drain (final: boolean): string[] {
    const out: string[] = []
    for (;;) {
      const lead = this.#buf.length - this.#buf.trimStart().length
      if (lead > 0) this.#buf = this.#buf.slice(lead)
      if (this.#buf.length === 0) break
      const end = this.#nextCut(final)
      if (end === undefined) break
      const piece = this.#buf.slice(0, end)
      this.#buf = this.#buf.slice(end)
      const text = this.#strip ? speakable(piece) : piece.replace(/\s+/gu, ' ').trim()
      if (text.length > 0) out.push(text)
    }
    return out
  }

  /**
   * Where the first piece of the buffer ends, or undefined when that is not known yet. A sentence
   * longer than maxChars is cut at a clause boundary; the choice depends only on the text, never
   * on how the deltas were chunked.
   */
  #nextCut (final: boolean): number | undefined {
    const buf = this.#buf
    const b = this.#boundary(final)
    // The sentence is known to run at least to `reach` (its end, or as far as we can see).
    const reach = b.end ?? b.knownTo
    if (b.end !== undefined && b.end <= this.#maxChars) return b.end
    if (b.end === undefined && reach <= this.#maxChars) return undefined

    const clauses = clauseCuts(buf, Math.min(reach, buf.length))
    const minChars = 10
    let before: number | undefined
    for (const c of clauses) if (c >= minChars && c <= this.#maxChars) before = c
    if (before !== undefined) return before
    const after = clauses.find((c) => c > this.#maxChars)
    if (after !== undefined) return after
    if (b.end !== undefined && b.end <= this.#hardMaxChars) return b.end
    if (reach > this.#hardMaxChars) {
      let space: number | undefined
      for (let i = minChars; i <= this.#hardMaxChars; i++) if (SPACE.test(buf[i] ?? '')) space = i
      if (space !== undefined) return space
      // One enormous "word" (a URL, garbage): cut at its first space rather than hold it forever.
      const next = buf.slice(this.#hardMaxChars).search(/\s/u)
      if (next >= 0) return this.#hardMaxChars + next
    }
    return b.end
  }

  /**
   * The first sentence boundary: `end` when decided (index just past the terminator and any
   * closing quotes), otherwise `knownTo`, how far the text is known to hold no boundary.
   */
  #boundary (final: boolean): { end?: number, knownTo: number } {
    const buf = this.#buf
    for (let i = 0; i < buf.length; i++) {
      const ch = buf[i] ?? ''
      if (ch === '\n') return { end: i + 1, knownTo: i + 1 }
      if (!TERMINATOR.test(ch)) continue

      let j = i
      while (j < buf.length && TERMINATOR.test(buf[j] ?? '')) j++
      while (j < buf.length && CLOSER.test(buf[j] ?? '')) j++
      const run = buf.slice(i, j)
      if (j === buf.length) return final ? { end: j, knownTo: j } : { knownTo: i }
      if (FULL_WIDTH_TERMINATOR.test(run)) return { end: j, knownTo: j }
      // `3.5`, `z.B.`, `e.g.,`, `$29.95/month`, `Sig.ra`: no space, no boundary.
      if (!SPACE.test(buf[j] ?? '')) { i = j - 1; continue }
      let k = j
      while (k < buf.length && SPACE.test(buf[k] ?? '')) {
        if (buf[k] === '\n') return { end: j, knownTo: j }
        k++
      }
      if (k === buf.length) return final ? { end: j, knownTo: j } : { knownTo: i }
      const next = buf[k] ?? ''
      // Writers start a sentence with a capital: `etc. and`, `Wait… what?` continue.
      if (LOWERCASE.test(next)) { i = j - 1; continue }
      if (/^\.["'”’»)\]}]*$/u.test(run) && this.#holdsPeriod(buf.slice(0, i))) { i = j - 1; continue }
      return { end: j, knownTo: j }
    }
    return final ? { end: buf.length, knownTo: buf.length } : { knownTo: buf.length }
  }

  /** Whether a single `.` after `before` is part of an abbreviation, an initial or a number. */
  #holdsPeriod (before: string): boolean {
    const m = /(\S+)$/u.exec(before)
    if (m === null) return false
    const word = (m[1] ?? '').replace(OPENER, '')
    const lower = word.toLowerCase()
    if (this.#noBreak.has(lower)) return true
    // Initials (`J. R. Tolkien`) and dotted abbreviations (`z.B.`, `u.a.`, `e.g.`, `U.S.`).
    if (/^\p{Lu}$/u.test(word)) return true
    if (/^(\p{L}{1,3}\.)+\p{L}{1,3}$/u.test(word)) return true
    if (/^\d+$/u.test(word)) {
      // A list marker (`2. Open the app`) or, in German, an ordinal (`am 3. Oktober`).
      if (m.index === 0 || /\n\s*$/u.test(before.slice(0, m.index))) return true
      if (this.#german) return true
    }
    return false
  }
}

/**
 * Indexes just past each clause boundary (`,` `;` `:` followed by a space, or a dash with a space
 * on both sides) below `limit`. A comma without a space (`1.000,50`) is part of a number.
 */
function clauseCuts (buf: string, limit: number): number[] {
  const cuts: number[] = []
  for (let i = 0; i + 1 < limit; i++) {
    const ch = buf[i] ?? ''
    if ((ch === ',' || ch === ';' || ch === ':') && SPACE.test(buf[i + 1] ?? '')) cuts.push(i + 1)
    else if (/[-–—]/u.test(ch) && i > 0 && SPACE.test(buf[i - 1] ?? '') && SPACE.test(buf[i + 1] ?? '')) cuts.push(i + 1)
  }
  return cuts
}

/** Markdown and emoji removed, whitespace collapsed; empty when nothing is left to say. */
export function speakable (text: string): string {
  let s = text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/gu, '$1')
    .replace(/^\s*(#{1,6}|>+|[-*+•])\s+/u, '')
    .replace(/(\*\*|__|~~|`+)/gu, '')
    .replace(/\*/gu, '')
    .replace(/(^|[\s(])_+|_+(?=[\s).,;:!?]|$)/gu, '$1')
    .replace(new RegExp(`\\s*${EMOJI}+(?=[.,;:!?…]|$)`, 'gu'), '')
    .replace(new RegExp(`${EMOJI}+`, 'gu'), '')
  s = s.replace(/\s+/gu, ' ').trim()
  return SPEAKABLE.test(s) ? s : ''
}
