import type { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { UdpMuxStats } from '../media/stream/udp-mux.ts'
import { registerMediaSocketMetrics } from './media-socket-metrics.ts'
import { LazyPackage } from '../lazy-package.ts'
import { ADMISSION_REASONS } from '../guard/admission.ts'
import type { BreakerState, ProviderObserver, ProviderRole } from '../providers/breaker.ts'
import { HANDSHAKE_FAILURES } from '../freeswitch/handshake.ts'
import { CALL_OUTCOMES, type CallObserver, type CallOutcome, type ErrorInput, type LatencyInput } from '../records/types.ts'

export interface LatencyStage {
  readonly stage: string
  readonly from: keyof LatencyInput
  readonly to: keyof LatencyInput
}

/** Histogram stages: each step of the reply, and the whole wait the caller hears. */
export const LATENCY_HISTOGRAM_STAGES: readonly LatencyStage[] = [
  { stage: 'stt', from: 'speechEndAt', to: 'sttFinalAt' },
  { stage: 'llm_first_token', from: 'sttFinalAt', to: 'llmFirstTokenAt' },
  { stage: 'first_sentence', from: 'llmFirstTokenAt', to: 'firstSentenceAt' },
  { stage: 'tts', from: 'firstSentenceAt', to: 'ttsAudioAt' },
  { stage: 'playout', from: 'ttsAudioAt', to: 'firstFrameAt' },
  { stage: 'total', from: 'speechEndAt', to: 'firstFrameAt' },
]

/**
 * Label values must come from small fixed sets or Prometheus memory grows with every new
 * value; anything that does not look like one of ours is counted as `other`.
 */
const label = (value: string | undefined, pattern: RegExp, absent = 'none'): string =>
  value === undefined ? absent : pattern.test(value) ? value : 'other'

/** Configured provider names (lib/speech/config.ts allows the same shape). */
const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/
const BREAKER_VALUES: Record<BreakerState, number> = { closed: 0, open: 1, half_open: 2 }

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop, GC). */
  readonly processMetrics?: boolean | undefined
  /**
   * Labels on the process metrics only (`worker="2"` in a worker process), so a cluster's
   * aggregated /metrics keeps each process's CPU, memory and event-loop delay apart.
   */
  readonly processLabels?: Readonly<Record<string, string>> | undefined
}

/** What the ops server renders at /metrics: one process's registry, or a cluster's merged. */
export interface MetricsSource {
  readonly contentType: string
  render (): Promise<string>
}

/**
 * The Prometheus metrics, in a registry of their own (no prom-client globals). It is a
 * CallObserver: pass it to `openCallStore(..., { observer })` and recording a call updates
 * its metrics; or call the methods yourself, but not both.
 */
/** Loaded by the first Metrics (serve makes one): with OpenTelemetry's API, ~80 CJS files a process that never serves metrics skips. */
const PROM_CLIENT = new LazyPackage<typeof import('prom-client')>('prom-client')

export class Metrics implements CallObserver, ProviderObserver, MetricsSource {
  readonly registry: Registry
  readonly #active: Gauge
  readonly #calls: Counter
  readonly #rejections: Counter
  readonly #latency: Histogram
  readonly #errors: Counter
  readonly #writeFailures: Counter
  readonly #handshakeFailures: Counter
  readonly #breaker: Gauge
  readonly #failovers: Counter
  readonly #skipped: Counter
  readonly #preemptiveDiscarded: Counter

  constructor (options: MetricsOptions = {}) {
    const { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } = PROM_CLIENT.get()
    this.registry = new Registry()
    const registers = [this.registry]
    this.#active = new Gauge({ name: 'phone_agent_active_calls', help: 'Calls in progress.', registers })
    this.#calls = new Counter({ name: 'phone_agent_calls_total', help: 'Calls ended, by outcome.', labelNames: ['outcome'], registers })
    this.#rejections = new Counter({ name: 'phone_agent_admission_rejections_total', help: 'Calls refused before answering, by reason.', labelNames: ['reason'], registers })
    this.#latency = new Histogram({
      name: 'phone_agent_turn_latency_seconds',
      help: 'Reply latency by stage; total is end of caller speech to the first audio frame sent.',
      labelNames: ['stage'],
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers,
    })
    this.#errors = new Counter({ name: 'phone_agent_errors_total', help: 'Errors during calls, by error code and provider (none when not a provider).', labelNames: ['code', 'provider'], registers })
    this.#writeFailures = new Counter({ name: 'phone_agent_record_write_failures_total', help: 'Call record writes lost (storage failure or full queue).', registers })
    this.#handshakeFailures = new Counter({ name: 'phone_agent_handshake_failed_total', help: 'Event Socket connections given up before the call could run, by reason.', labelNames: ['reason'], registers })
    // Each worker process has its own breakers: merged, the worst state shows (a sum would be meaningless).
    this.#breaker = new Gauge({ name: 'phone_agent_provider_breaker_state', help: 'Circuit breaker per provider: 0 closed, 1 open (skipped), 2 half-open (one request probes it).', labelNames: ['role', 'provider'], registers, aggregator: 'max' })
    this.#failovers = new Counter({ name: 'phone_agent_provider_failovers_total', help: 'Requests a provider failed before any output, handed to the next provider in the list.', labelNames: ['role', 'from', 'to'], registers })
    this.#skipped = new Counter({ name: 'phone_agent_provider_skipped_total', help: 'Requests not sent to a provider because its breaker was open.', labelNames: ['role', 'provider'], registers })
    this.#preemptiveDiscarded = new Counter({ name: 'phone_agent_preemptive_replies_discarded_total', help: 'Replies started at a short pause and discarded because the caller went on (billed all the same).', registers })
    // Zero series for every outcome and refusal reason, so rate() works before the first of each kind.
    for (const reason of ADMISSION_REASONS) this.#rejections.inc({ reason }, 0)
    for (const outcome of CALL_OUTCOMES) this.#calls.inc({ outcome }, 0)
    for (const reason of HANDSHAKE_FAILURES) this.#handshakeFailures.inc({ reason }, 0)
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, ...(options.processLabels ? { labels: { ...options.processLabels } } : {}) })
  }

  callStarted (): void {
    this.#active.inc()
  }

  callEnded (outcome: CallOutcome): void {
    this.#active.dec()
    this.#calls.inc({ outcome: label(outcome, /^[a-z_]{1,32}$/) })
  }

  admissionRejected (reason: string): void {
    this.#rejections.inc({ reason: label(reason, /^[a-z0-9_]{1,32}$/) })
  }

  turnLatency (latency: LatencyInput): void {
    for (const { stage, from, to } of LATENCY_HISTOGRAM_STAGES) {
      const a = latency[from]
      const b = latency[to]
      if (typeof a !== 'number' || typeof b !== 'number' || !(b >= a)) continue
      this.#latency.observe({ stage }, (b - a) / 1000)
    }
  }

  callError (error: ErrorInput): void {
    this.#errors.inc({ code: label(error.code, /^[A-Z][A-Z0-9_]{0,63}$/), provider: label(error.provider, /^[a-z0-9_-]{1,32}$/) })
  }

  /** Same as callError, for provider failures outside a call record. */
  providerError (code: string, provider: string): void {
    this.callError({ code, provider, message: '' })
  }

  breakerState (role: ProviderRole, provider: string, state: BreakerState): void {
    this.#breaker.set({ role, provider: label(provider, PROVIDER_NAME) }, BREAKER_VALUES[state])
  }

  failover (role: ProviderRole, from: string, to: string): void {
    this.#failovers.inc({ role, from: label(from, PROVIDER_NAME), to: label(to, PROVIDER_NAME) })
  }

  skipped (role: ProviderRole, provider: string): void {
    this.#skipped.inc({ role, provider: label(provider, PROVIDER_NAME) })
  }

  recordWriteFailed (): void {
    this.#writeFailures.inc()
  }

  preemptiveDiscarded (count: number): void {
    this.#preemptiveDiscarded.inc(count)
  }

  /** The shared media socket's counters, read at each scrape (media-socket-metrics.ts). */
  mediaSocket (read: () => UdpMuxStats | undefined): void {
    registerMediaSocketMetrics(this.registry, PROM_CLIENT.get().Counter, PROM_CLIENT.get().Gauge, read)
  }

  /** An Event Socket handshake given up (lib/freeswitch/handshake.ts HANDSHAKE_FAILURES). */
  handshakeFailed (reason: string): void {
    this.#handshakeFailures.inc({ reason: label(reason, /^[a-z_]{1,32}$/) })
  }

  get contentType (): string {
    return this.registry.contentType
  }

  /** The metrics as prom-client's JSON, for a cluster primary to merge (`mergedMetrics`). */
  async json (): Promise<unknown> {
    return await this.registry.getMetricsAsJSON()
  }

  /** The Prometheus text exposition. */
  async render (): Promise<string> {
    return await this.registry.metrics()
  }
}

/**
 * A cluster's /metrics: the primary's own metrics and every worker's, merged by prom-client's
 * AggregatorRegistry rules (counters and histograms summed; process metrics kept apart by their
 * `worker` label). `collect` asks the workers and gives their JSON; a worker that does not
 * answer is left out, so one stuck process does not blank the whole scrape.
 */
export function mergedMetrics (own: Metrics, collect: () => Promise<unknown[]>): MetricsSource {
  return {
    contentType: own.contentType,
    render: async () => {
      const { AggregatorRegistry } = PROM_CLIENT.get()
      const all = [await own.json(), ...await collect()] as Parameters<typeof AggregatorRegistry.aggregate>[0]
      return await AggregatorRegistry.aggregate(all).metrics()
    },
  }
}
