/**
 * The caller's keypad for one call: DTMF digits as they arrive (the session feeds `push` from
 * the channel's DTMF events). A waiting reader (`digits()`) gets each digit at once; otherwise
 * digits are kept for the next reader, since callers who know the menu type ahead. The buffer is
 * bounded: a caller leaning on a key cannot grow it.
 */
export class Keypad {
  static readonly MAX_BUFFERED = 64

  readonly #buffer: string[] = []
  #reader: ((digit: string) => void) | undefined

  /** A digit from the caller: to the waiting reader, else kept (the oldest dropped past the bound). */
  push (digit: string): void {
    if (this.#reader !== undefined) this.#reader(digit)
    else if (this.#buffer.push(digit) > Keypad.MAX_BUFFERED) this.#buffer.shift()
  }

  /** The oldest digit typed ahead, or undefined when none is kept. */
  take (): string | undefined {
    return this.#buffer.shift()
  }

  /** Forget the digits typed ahead (a reader that wants only what comes next, a new conversation). */
  flush (): void {
    this.#buffer.length = 0
  }

  /**
   * Send each new digit to `reader` instead of keeping it, until the returned function is called.
   * One reader at a time: a new one replaces the last, and a replaced reader's stop does nothing.
   */
  wait (reader: (digit: string) => void): () => void {
    this.#reader = reader
    return () => { if (this.#reader === reader) this.#reader = undefined }
  }
}
