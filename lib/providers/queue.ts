import PQueue from 'p-queue'
import { abortReason } from '../errors.ts'

/**
 * One queue per provider bounds the requests in flight to it, so a burst of calls waits here
 * instead of tripping the vendor's rate limit. A slot is held for the whole request, streamed
 * body included: for an LLM stream or a live STT session that is until the stream ends.
 */
export class ProviderQueue {
  readonly name: string
  readonly #queue: PQueue

  constructor (name: string, concurrency: number) {
    this.name = name
    this.#queue = new PQueue({ concurrency })
  }

  /** Requests running now. */
  get running (): number { return this.#queue.pending }
  /** Requests waiting for a slot. */
  get waiting (): number { return this.#queue.size }

  /**
   * Wait for a slot; resolves with the function that gives it back (call it exactly once; extra
   * calls are ignored). Rejects with the signal's reason when aborted while still waiting.
   */
  acquire (signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal))
    return new Promise((resolve, reject) => {
      this.#queue.add(() => new Promise<void>(release => {
        let released = false
        resolve(() => { if (!released) { released = true; release() } })
      }), signal === undefined ? {} : { signal }).catch(() => {
        // p-queue rejects with its own AbortError; callers get our typed reason instead.
        reject(signal?.aborted === true ? abortReason(signal) : new Error('queue rejected the job'))
      })
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
  onIdle (): Promise<void> { return this.#queue.onIdle() }
}
