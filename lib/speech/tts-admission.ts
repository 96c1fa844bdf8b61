/**
 * Which streamed sentences the speech cache writes to disk (tts-cache.ts). In stream mode the
 * audio goes to the caller straight from the provider, so the file only pays off when the same
 * sentence is said again, and an LLM's replies almost never are: writing every one cost each turn
 * a file created, written, renamed (and, with the directory full, another deleted), 1.3 ms of the
 * threadpool's CPU at 500 calls (docs/benchmarks.md, fifteenth session).
 *
 * `repeated`: a sentence is written the second time it is synthesised while this process still
 * remembers the first (the last REMEMBERED distinct sentences): prompts, greetings and the
 * phrases a model keeps using, one synthesis later than before. `all`: every sentence, as before.
 * Files mode is not affected: FreeSWITCH plays the file, so a render is always written.
 */
export type CacheAdmission = 'repeated' | 'all'

/** Distinct sentences remembered: about a day of a busy line's replies, 2048 numbers. */
export const REMEMBERED = 2048

export class SentenceMemory {
  readonly #capacity: number
  readonly #seen = new Set<number>()
  readonly #order: Float64Array
  #next = 0

  constructor (capacity = REMEMBERED) {
    this.#capacity = Math.max(1, Math.floor(capacity))
    this.#order = new Float64Array(this.#capacity).fill(Number.NaN)
  }

  /**
   * Whether `key` (a cache key: hex) was offered before and is still remembered; remembered from
   * now on either way. Held as the key's first 48 bits: two sentences sharing them (about one in
   * 10^11 for a day's sentences) only means one is written a synthesis early.
   */
  again (key: string): boolean {
    const id = Number.parseInt(key.slice(0, 12), 16)
    if (this.#seen.has(id)) return true
    const old = this.#order[this.#next] as number
    if (!Number.isNaN(old)) this.#seen.delete(old)
    this.#order[this.#next] = id
    this.#next = (this.#next + 1) % this.#capacity
    this.#seen.add(id)
    return false
  }
}
