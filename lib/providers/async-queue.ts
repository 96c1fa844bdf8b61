/**
 * A push-to-pull bridge: producers (gRPC data events, a finished transcription) push, one
 * consumer iterates with `for await`. Items pushed before the consumer starts are kept.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = []
  #waiter: { resolve: (r: IteratorResult<T>) => void, reject: (e: unknown) => void } | undefined
  #ended = false
  #error: unknown
  #failed = false
  readonly #onReturn: (() => void) | undefined

  /** `onReturn` runs when the consumer stops early (`break`), to release the producer. */
  constructor (onReturn?: () => void) {
    this.#onReturn = onReturn
  }

  get closed (): boolean { return this.#ended || this.#failed }

  push (item: T): void {
    if (this.closed) return
    const w = this.#waiter
    if (w !== undefined) { this.#waiter = undefined; w.resolve({ value: item, done: false }) } else this.#items.push(item)
  }

  end (): void {
    if (this.closed) return
    this.#ended = true
    const w = this.#waiter
    if (w !== undefined && this.#items.length === 0) { this.#waiter = undefined; w.resolve({ value: undefined, done: true }) }
  }

  /** Items already queued are still delivered; the error follows them. */
  fail (err: unknown): void {
    if (this.closed) return
    this.#failed = true
    this.#error = err
    const w = this.#waiter
    if (w !== undefined && this.#items.length === 0) { this.#waiter = undefined; w.reject(err) }
  }

  [Symbol.asyncIterator] (): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift() as T, done: false })
        if (this.#failed) return Promise.reject(this.#error)
        if (this.#ended) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve, reject) => { this.#waiter = { resolve, reject } })
      },
      return: () => {
        const wasOpen = !this.closed
        this.#ended = true
        this.#items.length = 0
        if (wasOpen) this.#onReturn?.()
        return Promise.resolve({ value: undefined, done: true })
      },
    }
  }
}
