import type { CallConfig } from './config.ts'
import type { LlmProvider } from '../llm/types.ts'
import { UsageMeter } from '../providers/usage.ts'
import type { CallRecorder, EndInput, ErrorInput, LatencyInput, MessageInput, TurnInput, UsageInput } from '../records/types.ts'
import type { SttProvider } from '../speech/stt/types.ts'
import { ttsProviders } from '../speech/config.ts'

/**
 * The call's recorder, with usage also metered per provider so the record gets an estimated
 * cost from the configured price table (`speech.pricing`) when the call ends.
 */
export function meteredRecorder (inner: CallRecorder, config: Pick<CallConfig, 'speech'>, providers: { stt: SttProvider | undefined, llm: LlmProvider | undefined }): CallRecorder {
  return new MeteredRecorder(inner, config, providers)
}

/**
 * Delegates method by method (recorders are class instances, whose methods a spread would miss).
 * A class, not an object of arrow functions: those were ten functions made per call, each, under
 * tsx (esbuild's keepNames), with a 256-byte property dictionary of its own (docs/benchmarks.md,
 * "Memory per call (tenth session, helper 10b)").
 */
class MeteredRecorder implements CallRecorder {
  readonly uuid: string
  readonly #inner: CallRecorder
  readonly #meter = new UsageMeter()
  readonly #tts: { provider: string, model: string | undefined }
  readonly #config: Pick<CallConfig, 'speech'>
  readonly #providers: { stt: SttProvider | undefined, llm: LlmProvider | undefined }

  constructor (inner: CallRecorder, config: Pick<CallConfig, 'speech'>, providers: { stt: SttProvider | undefined, llm: LlmProvider | undefined }) {
    this.uuid = inner.uuid
    this.#inner = inner
    this.#tts = ttsIdentity(config)
    this.#config = config
    this.#providers = providers
  }

  rejected (reason: string): void { this.#inner.rejected(reason) }
  answered (at?: number): void { this.#inner.answered(at) }
  contact (name: string): void { this.#inner.contact(name) }
  turn (turn: TurnInput): void { this.#inner.turn(turn) }
  latency (latency: LatencyInput): void { this.#inner.latency(latency) }
  message (message: MessageInput): void { this.#inner.message(message) }
  error (error: ErrorInput): void { this.#inner.error(error) }

  usage (u: UsageInput): void {
    this.#inner.usage(u)
    const { stt, llm } = this.#providers
    if ((u.sttSeconds ?? 0) > 0 && stt) this.#meter.addStt(stt.name, undefined, u.sttSeconds ?? 0)
    if (((u.llmInputTokens ?? 0) > 0 || (u.llmOutputTokens ?? 0) > 0) && llm) {
      this.#meter.addLlm(llm.name, llm.model, u.llmInputTokens ?? 0, u.llmOutputTokens ?? 0)
    }
    if ((u.ttsCharacters ?? 0) > 0) this.#meter.addTts(this.#tts.provider, this.#tts.model, u.ttsCharacters ?? 0)
  }

  async end (e: EndInput): Promise<void> {
    const cost = this.#meter.cost(this.#config.speech.pricing)
    if (cost.total > 0) this.#inner.usage({ costEstimate: cost.total })
    await this.#inner.end(e)
  }

  /** A realtime session's tokens (recordRealtimeUsage). */
  realtime (u: RealtimeUsageInput): void {
    this.#meter.addLlm(u.provider, u.model, u.inputTokens, u.outputTokens)
    this.#inner.usage({ llmInputTokens: u.inputTokens, llmOutputTokens: u.outputTokens })
  }
}

export interface RealtimeUsageInput {
  /** The speech-to-speech vendor (`openai`, `gemini`): priced as `speech.pricing.llm["vendor:model"]`. */
  readonly provider: string
  readonly model: string
  readonly inputTokens: number
  readonly outputTokens: number
}

/**
 * A realtime session's tokens: on the record, and metered under the vendor's own name (not the
 * pipeline's language model, which `usage()` would bill them to). No-op for a recorder that
 * meteredRecorder did not make.
 */
export function recordRealtimeUsage (recorder: CallRecorder, usage: RealtimeUsageInput): void {
  if (recorder instanceof MeteredRecorder) recorder.realtime(usage)
}

/**
 * Characters are priced at the first listed voice: the sentence that failed over to the next one
 * is not told apart here (a slight over- or under-estimate while a provider is down).
 */
function ttsIdentity (config: Pick<CallConfig, 'speech'>): { provider: string, model: string | undefined } {
  const first = ttsProviders(config.speech.tts)[0]?.entry
  if (first?.provider === 'openai') return { provider: first.name, model: first.model }
  if (first?.provider === 'google') return { provider: first.name, model: first.voice }
  return { provider: 'offline', model: undefined }
}
