import type { Logger } from 'pino'
import { PhoneAgentError, abortReason } from '../errors.ts'
import { AbortLink } from './abort-link.ts'
import { toProviderError } from './errors.ts'

export interface RetryPolicy {
  /** Attempts in total; 1 means never retry. */
  readonly maxAttempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

/**
 * The caller's signal plus our own deadline timer, as one signal. `dispose()` clears the timer so
 * a finished request leaves nothing scheduled (AbortSignal.timeout would keep it until it fires).
 */
export interface Deadline {
  readonly signal: AbortSignal
  /** Our timer's own signal: aborted only when the deadline passed. Made on first read: most requests never need it. */
  readonly timer: AbortSignal
  /** Whether the deadline passed (not the caller's abort), without making `timer`. */
  readonly expired: boolean
  readonly at: number
  remainingMs (): number
  /**
   * Clear the timer and go on following the caller's signal: for a deadline on the start of
   * something that then runs on (a streamed sentence's first audio), which the caller may still
   * cancel. Its link to the caller lives as long as that signal does; use it on short-lived ones.
   */
  stopTimer (): void
  dispose (): void
}

let liveTimers = 0

/** Deadline and backoff timers not yet fired or cleared: tests assert this returns to zero. */
export function pendingProviderTimers (): number { return liveTimers }

export function createDeadline (signal: AbortSignal | undefined, timeoutMs: number, now: () => number = Date.now): Deadline {
  return new RequestDeadline(signal, timeoutMs, now)
}

/**
 * A class, not an object literal of closures: five or more deadlines a turn (each request, each
 * sentence's first audio), and each literal made six functions and a context, its getters a
 * map of their own; the timer's callback is one static function given the deadline as argument.
 */
class RequestDeadline implements Deadline {
  readonly at: number
  readonly #timeoutMs: number
  readonly #now: () => number
  // One signal for both causes, following the caller's by a listener removed at dispose
  // (abort-link.ts says why not AbortSignal.any).
  readonly #link: AbortLink
  #handle: NodeJS.Timeout | undefined
  #timeout: PhoneAgentError | undefined
  /** The timer's own signal, made only if someone reads it: the providers only ask `expired`. */
  #timerController: AbortController | undefined

  constructor (signal: AbortSignal | undefined, timeoutMs: number, now: () => number) {
    this.at = now() + timeoutMs
    this.#timeoutMs = timeoutMs
    this.#now = now
    this.#link = new AbortLink([signal])
    liveTimers++
    this.#handle = setTimeout(RequestDeadline.#fire, timeoutMs, this)
  }

  static #fire (d: RequestDeadline): void { d.#expire() }

  get signal (): AbortSignal { return this.#link.signal }

  get timer (): AbortSignal {
    if (this.#timerController === undefined) {
      this.#timerController = new AbortController()
      if (this.#timeout !== undefined) this.#timerController.abort(this.#timeout)
    }
    return this.#timerController.signal
  }

  get expired (): boolean { return this.#timeout !== undefined }

  remainingMs (): number { return Math.max(0, this.at - this.#now()) }

  stopTimer (): void {
    if (this.#handle === undefined) return
    clearTimeout(this.#handle)
    this.#handle = undefined
    liveTimers--
  }

  dispose (): void {
    this.stopTimer()
    this.#link.dispose()
  }

  #expire (): void {
    this.#handle = undefined
    liveTimers--
    // The reason is a typed timeout, so anything that reports `signal.reason` reports the right code.
    const timeout = this.#timeout = new PhoneAgentError('PROVIDER_TIMEOUT', `no answer within ${this.#timeoutMs} ms`)
    this.#timerController?.abort(timeout)
    if (!this.#link.signal.aborted) this.#link.abort(timeout)
  }
}

/** Full-jitter exponential backoff (AWS architecture blog, "Exponential Backoff and Jitter"). */
export function backoffDelay (attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt)
  return Math.floor(random() * ceiling)
}

/** Resolves after `ms`, or rejects at once when `signal` aborts; never leaves the timer behind. */
export function sleep (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return }
    liveTimers++
    const onAbort = (): void => { clearTimeout(handle); liveTimers--; reject(signal.reason) }
    const handle = setTimeout(() => { liveTimers--; signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

export interface RetryOptions {
  readonly provider: string
  readonly operation: string
  readonly policy: RetryPolicy
  /** The caller's signal (hangup, barge-in). */
  readonly signal?: AbortSignal | undefined
  /** The whole budget, every attempt and backoff included. */
  readonly timeoutMs: number
  /** An existing deadline to share (a stream that outlives its retried start); not disposed here. */
  readonly deadline?: Deadline | undefined
  readonly log?: Logger | undefined
  readonly random?: () => number
}

/**
 * Run `attempt` until it succeeds, fails permanently, runs out of attempts or the deadline
 * passes. Each attempt gets the deadline's signal and must stop when it aborts. A backoff that
 * would overrun the deadline is not started: the last error is thrown at once instead, so the
 * caller can fall back while there is still time.
 */
export async function withRetry<T> (attempt: (signal: AbortSignal, attemptNo: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const deadline = options.deadline ?? createDeadline(options.signal, options.timeoutMs)
  const ctx = { provider: options.provider, operation: options.operation, signal: options.signal, deadline }
  try {
    for (let n = 0; ; n++) {
      let error: PhoneAgentError
      try {
        if (deadline.signal.aborted) throw deadline.signal.reason
        return await attempt(deadline.signal, n)
      } catch (err) {
        error = toProviderError(err, ctx)
      }
      if (!error.transient || deadline.signal.aborted || n + 1 >= options.policy.maxAttempts) throw error
      const delay = backoffDelay(n, options.policy, options.random)
      if (delay >= deadline.remainingMs()) throw error
      options.log?.warn({ provider: options.provider, operation: options.operation, code: error.code, attempt: n + 1, delayMs: delay }, 'provider request failed, retrying')
      try {
        await sleep(delay, deadline.signal)
      } catch {
        throw options.signal?.aborted === true ? abortReason(options.signal) : toProviderError(error, ctx)
      }
    }
  } finally {
    if (options.deadline === undefined) deadline.dispose()
  }
}
