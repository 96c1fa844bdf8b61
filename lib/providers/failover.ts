import type { Logger } from 'pino'
import { PhoneAgentError } from '../errors.ts'
import { isProviderFault, type Lease, type ProviderBreaker, type ProviderObserver, type ProviderRole } from './breaker.ts'

/**
 * The providers of one role in the configured order, each behind its breaker. A request goes to
 * the first provider whose breaker lets it through; when that provider fails on its side before
 * any output, the request goes on to the next one. Once output has started (tokens, audio, a
 * transcript) a failure is final: switching voice or model mid-answer would be heard, so the
 * turn's own fallback (the apology) handles it.
 */

export interface ChainMember<T> {
  readonly provider: T
  readonly breaker: ProviderBreaker
}

export interface Admitted<T> {
  readonly index: number
  readonly provider: T
  readonly lease: Lease
}

/** A failure that another provider may succeed at: on the provider's side, and the caller still waiting. */
export function canFailOver (err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted !== true && isProviderFault(err)
}

export class ProviderChain<T extends { readonly name: string }> {
  readonly role: ProviderRole
  readonly members: ReadonlyArray<ChainMember<T>>
  readonly #observer: ProviderObserver | undefined
  readonly #log: Logger | undefined

  constructor (role: ProviderRole, members: ReadonlyArray<ChainMember<T>>, options: { observer?: ProviderObserver | undefined, log?: Logger | undefined } = {}) {
    if (members.length === 0) throw new Error(`${role}: a provider chain needs at least one provider`)
    this.role = role
    this.members = members
    this.#observer = options.observer
    this.#log = options.log
  }

  /**
   * The provider a request would go to now: the first one not cooling down (the first of all
   * when every one is). Names and TTS cache keys follow it, so audio made by a fallback voice
   * while the first is down is cached under the fallback's own key.
   */
  get current (): T {
    return this.members[this.currentIndex]!.provider
  }

  get currentIndex (): number {
    return Math.max(0, this.members.findIndex((m) => m.breaker.available))
  }

  /** The first member at `from` or after whose breaker admits a request; skipped ones are counted. */
  admit (from: number): Admitted<T> | undefined {
    for (let index = from; index < this.members.length; index++) {
      const m = this.members[index]!
      const lease = m.breaker.tryAcquire()
      if (lease !== undefined) return { index, provider: m.provider, lease }
      this.#observer?.skipped(this.role, m.provider.name)
    }
    return undefined
  }

  /**
   * The next provider after a failure at `failed`, with the hand-over counted and logged, or
   * undefined when none is left.
   */
  next (failed: Admitted<T>, err: unknown): Admitted<T> | undefined {
    const next = this.admit(failed.index + 1)
    if (next !== undefined) {
      this.#observer?.failover(this.role, failed.provider.name, next.provider.name)
      this.#log?.warn({ role: this.role, from: failed.provider.name, to: next.provider.name, err }, 'provider failed, trying the next one')
    }
    return next
  }

  /** What a request gets when no provider took it: the last real failure, or "all cooling down". */
  unavailable (lastError: unknown): PhoneAgentError {
    if (lastError instanceof PhoneAgentError) return lastError
    const names = this.members.map((m) => m.provider.name).join(', ')
    const cause = this.members.map((m) => m.breaker.lastFailure).find((e) => e !== undefined)
    return new PhoneAgentError('PROVIDER_UNAVAILABLE', `${this.role}: skipped after repeated failures (${names}); waiting for the cool-down`, { cause })
  }

  /** A request that answers at once (transcribe), with failover. */
  async run<R> (fn: (provider: T, index: number) => Promise<R>, signal: AbortSignal | undefined): Promise<R> {
    let lastError: unknown
    for (let a = this.admit(0); a !== undefined; a = this.next(a, lastError)) {
      try {
        const result = await fn(a.provider, a.index)
        a.lease.end()
        return result
      } catch (err) {
        a.lease.end(err)
        if (!canFailOver(err, signal)) throw err
        lastError = err
      }
    }
    throw this.unavailable(lastError)
  }

  /**
   * A streamed request (LLM deltas, TTS audio), with failover until the first item. A consumer
   * that stops reading ends the lease as the provider's success when items came (they did).
   */
  async * stream<R> (open: (provider: T, index: number) => AsyncIterable<R>, signal: AbortSignal | undefined): AsyncGenerator<R> {
    let lastError: unknown
    for (let a = this.admit(0); a !== undefined; a = this.next(a, lastError)) {
      let it: AsyncIterator<R> | undefined
      let produced = false
      let settled = false
      try {
        for (;;) {
          let r: IteratorResult<R>
          try {
            // Opened inside the try: a provider that throws at once still settles its lease
            // (an unsettled probe would leave the breaker half-open for good).
            it ??= open(a.provider, a.index)[Symbol.asyncIterator]()
            r = await it.next()
          } catch (err) {
            settled = true
            a.lease.end(err)
            if (produced || !canFailOver(err, signal)) throw err
            lastError = err
            break
          }
          if (r.done === true) {
            settled = true
            a.lease.end()
            return
          }
          if (!produced) { produced = true; a.lease.produced() }
          yield r.value
        }
      } finally {
        if (!settled) {
          // Our consumer stopped (break, or an abort seen above us): release the provider's stream.
          a.lease.end(new PhoneAgentError('TURN_OVER', 'the consumer stopped reading'))
          await it?.return?.()
        }
      }
    }
    throw this.unavailable(lastError)
  }
}
