import { abortReason } from '../errors.ts'

interface Waiter {
  readonly grant: () => void
  readonly onAbort: () => void
}

/**
 * One queue per provider bounds the requests in flight to it, so a burst of calls waits here
 * instead of tripping the vendor's rate limit. A slot is held for the whole request, streamed
 * body included: for an LLM stream or a live STT session that is until the stream ends.
 *
 * A counting semaphore with a FIFO of waiters: each turn takes three slots, and p-queue (its
 * events, job wrapper and abort plumbing) cost more than the bookkeeping needs (issue 18).
 */
export class ProviderQueue {
  readonly name: string
  readonly #concurrency: number
  #running = 0
  readonly #waiters: Waiter[] = []
  #idle: Array<() => void> = []

  constructor (name: string, concurrency: number) {
    this.name = name
    this.#concurrency = Math.max(1, concurrency)
  }

  /** Requests running now. */
  get running (): number { return this.#running }
  /** Requests waiting for a slot. */
  get waiting (): number { return this.#waiters.length }

  /**
   * Wait for a slot; resolves with the function that gives it back (call it exactly once; extra
   * calls are ignored). Rejects with the signal's reason when aborted while still waiting.
   */
  acquire (signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted === true) return Promise.reject(abortReason(signal))
    if (this.#running < this.#concurrency && this.#waiters.length === 0) {
      this.#running++
      return Promise.resolve(this.#releaser())
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', waiter.onAbort)
          resolve(this.#releaser())
        },
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter)
          if (at !== -1) this.#waiters.splice(at, 1)
          reject(abortReason(signal as AbortSignal))
          this.#settle()
        },
      }
      this.#waiters.push(waiter)
      signal?.addEventListener('abort', waiter.onAbort, { once: true })
    })
  }

  /** Run `fn` in a slot. */
  async run<T> (fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal)
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /** Resolves when nothing is running or waiting (tests, shutdown). */
  onIdle (): Promise<void> {
    if (this.#running === 0 && this.#waiters.length === 0) return Promise.resolve()
    return new Promise((resolve) => { this.#idle.push(resolve) })
  }

  #releaser (): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.#waiters.shift()
      // The slot passes straight to the next waiter: the count stays, nobody can cut in.
      if (next !== undefined) next.grant()
      else this.#running--
      this.#settle()
    }
  }

  #settle (): void {
    if (this.#running !== 0 || this.#waiters.length !== 0 || this.#idle.length === 0) return
    const idle = this.#idle
    this.#idle = []
    for (const resolve of idle) resolve()
  }
}
