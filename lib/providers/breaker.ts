import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy, type IBackoff } from 'cockatiel'
import type { Logger } from 'pino'
import { isPhoneAgentError, type ErrorCode } from '../errors.ts'

/**
 * A circuit breaker per provider instance, shared by every call in the process: after
 * `failures` requests in a row fail on the provider's side it is skipped for `coolDownMs`
 * (requests go to the next provider, or fail at once), then one request probes it: success
 * closes the breaker, failure opens it for another cool-down.
 *
 * The state machine is cockatiel's (CircuitBreakerPolicy + ConsecutiveBreaker). Two things are
 * ours: the cool-down is measured on an injectable monotonic clock (cockatiel compares Date.now()
 * with a backoff's `duration`, so the backoff below answers "expired" or "not yet" from our
 * clock), and while the probe runs other requests skip the provider instead of queueing behind
 * it (cockatiel would make them wait for the probe, which may be a whole streamed answer).
 */

export type ProviderRole = 'stt' | 'llm' | 'tts'
export type BreakerState = 'closed' | 'open' | 'half_open'

/** What a breaker and a failover chain report; lib/ops/metrics.ts implements it. */
export interface ProviderObserver {
  breakerState (role: ProviderRole, provider: string, state: BreakerState): void
  /** A request `from` could not serve went on to `to`. */
  failover (role: ProviderRole, from: string, to: string): void
  /** A request was not sent to `provider` because its breaker was open. */
  skipped (role: ProviderRole, provider: string): void
}

export interface BreakerSettings {
  readonly enabled: boolean
  /** Failed requests in a row that open the breaker. */
  readonly failures: number
  readonly coolDownMs: number
}

export interface BreakerOptions extends BreakerSettings {
  readonly role: ProviderRole
  readonly provider: string
  /** Milliseconds, monotonic (tests pass a fake). */
  readonly clock?: () => number
  readonly observer?: ProviderObserver | undefined
  readonly log?: Logger | undefined
}

/** One request's hold on a provider: say when output started, then how it ended (once). */
export interface Lease {
  /** The provider produced output (a token, audio, a transcript): its answer is under way. */
  produced (): void
  /** No error: success. Otherwise the error decides: see `outcomeOf`. */
  end (err?: unknown): void
}

/**
 * Failures on the provider's side: timeouts (ours or the caller's deadline, both
 * PROVIDER_TIMEOUT), 5xx and broken connections, 429, garbage, refused credentials (a revoked
 * key makes the provider as useless as an outage). Not a 400 (our input) and not an abort by
 * the caller (barge-in, hang-up, turn over), which carry codes of their own.
 */
const PROVIDER_FAULTS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['PROVIDER_TIMEOUT', 'PROVIDER_UNAVAILABLE', 'PROVIDER_RATE_LIMITED', 'PROVIDER_BAD_RESPONSE', 'PROVIDER_AUTH'])

export function isProviderFault (err: unknown): boolean {
  return isPhoneAgentError(err) && PROVIDER_FAULTS.has(err.code)
}

export type Outcome = 'success' | 'failure' | 'neutral'

/**
 * How a request ended, for the breaker. A provider fault is a failure even mid-stream. Anything
 * else after output started is a success (the provider was answering; the stop was ours), as is
 * a 400 (the provider answered). A caller's abort before any output says nothing about the
 * provider: neutral, except for a probe, which must prove the provider works (it re-opens).
 */
export function outcomeOf (err: unknown, produced: boolean, probe: boolean): Outcome {
  if (err === undefined) return 'success'
  if (isProviderFault(err)) return 'failure'
  if (produced || isPhoneAgentError(err, 'PROVIDER_BAD_REQUEST')) return 'success'
  return probe ? 'failure' : 'neutral'
}

/** Rejections cockatiel counts; anything else it passes through uncounted. */
class CountedFailure extends Error {}

/** A cool-down that asks our clock whether it is over (see the module comment). */
class CoolDown implements IBackoff<unknown> {
  readonly #until: number
  readonly #clock: () => number
  readonly #renew: () => CoolDown

  constructor (ms: number, clock: () => number, renew: () => CoolDown) {
    this.#clock = clock
    this.#until = clock() + ms
    this.#renew = renew
  }

  get over (): boolean { return this.#clock() >= this.#until }
  // cockatiel stays open while `Date.now() - openedAt < duration`.
  get duration (): number { return this.over ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY }
  /** cockatiel asks for the next one when a probe fails and the breaker opens again. */
  next (): CoolDown { return this.#renew() }
}

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half_open',
  [CircuitState.Isolated]: 'open',
}

const NO_LEASE: Lease = { produced: () => {}, end: () => {} }

export class ProviderBreaker {
  readonly role: ProviderRole
  readonly provider: string
  readonly #settings: BreakerSettings
  readonly #policy: CircuitBreakerPolicy
  #lastFailure: unknown
  /** The cool-down of the latest opening. */
  #coolDown: CoolDown | undefined

  constructor (options: BreakerOptions) {
    this.role = options.role
    this.provider = options.provider
    this.#settings = options
    const clock = options.clock ?? (() => performance.now())
    const renew = (): CoolDown => (this.#coolDown = new CoolDown(options.coolDownMs, clock, renew))
    this.#policy = circuitBreaker(handleWhen((e) => e instanceof CountedFailure), {
      halfOpenAfter: { next: renew },
      breaker: new ConsecutiveBreaker(options.failures),
    })
    const { observer, log } = options
    observer?.breakerState(this.role, this.provider, 'closed')
    this.#policy.onStateChange((s) => {
      const state = STATE_NAMES[s]
      observer?.breakerState(this.role, this.provider, state)
      const fields = { role: this.role, provider: this.provider }
      if (state === 'open') log?.warn({ ...fields, err: this.#lastFailure, coolDownMs: options.coolDownMs }, 'provider breaker open: skipped until the cool-down ends')
      else if (state === 'half_open') log?.info(fields, 'provider breaker half-open: one request probes it')
      else log?.info(fields, 'provider breaker closed')
    })
  }

  get state (): BreakerState { return STATE_NAMES[this.#policy.state] }

  /** The last failure that counted, for the error a skipped request gets. */
  get lastFailure (): unknown { return this.#lastFailure }

  /** True when a request now would be let through (open and cool-down over counts: it probes). */
  get available (): boolean {
    if (!this.#settings.enabled) return true
    const state = this.#policy.state
    if (state === CircuitState.Closed) return true
    return state === CircuitState.Open && this.#coolDown?.over === true
  }

  /**
   * A lease for one request, or undefined when the breaker is open (or a probe is running).
   * Settle the lease exactly once; later calls are ignored.
   */
  tryAcquire (): Lease | undefined {
    if (!this.#settings.enabled) return NO_LEASE
    if (this.#policy.state === CircuitState.HalfOpen) return undefined
    let admitted = false
    let settle: { resolve: () => void, reject: (e: unknown) => void } | undefined
    const running = this.#policy.execute(() => {
      admitted = true
      return new Promise<void>((resolve, reject) => { settle = { resolve, reject } })
    })
    // Open: execute() rejected with BrokenCircuitError; the outcome of a running request is
    // reported through the lease, so the policy's own promise is only there to be settled.
    running.catch(() => {})
    // cockatiel calls the function synchronously when it admits the request (closed, or the
    // open -> half-open transition that makes this request the probe).
    if (!admitted || settle === undefined) return undefined
    // Read again: execute() may have just moved it from open to half-open.
    const probe = (this.#policy.state as CircuitState) === CircuitState.HalfOpen
    const s = settle
    let produced = false
    let ended = false
    return {
      produced: () => { produced = true },
      end: (err?: unknown) => {
        if (ended) return
        ended = true
        const outcome = outcomeOf(err, produced, probe)
        if (outcome === 'success') s.resolve()
        else if (outcome === 'failure') {
          this.#lastFailure = err
          s.reject(new CountedFailure('provider failure', { cause: err }))
        } else s.reject(err)
      },
    }
  }
}
