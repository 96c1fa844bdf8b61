import type { CallConfig } from './config.ts'
import type { LlmProvider } from '../llm/types.ts'
import { UsageMeter } from '../providers/usage.ts'
import type { CallRecorder } from '../records/types.ts'
import type { SttProvider } from '../speech/stt/types.ts'
import { ttsProviders } from '../speech/config.ts'

/**
 * The call's recorder, with usage also metered per provider so the record gets an estimated
 * cost from the configured price table (`speech.pricing`) when the call ends.
 */
export function meteredRecorder (inner: CallRecorder, config: Pick<CallConfig, 'speech'>, providers: { stt: SttProvider | undefined, llm: LlmProvider | undefined }): CallRecorder {
  const meter = new UsageMeter()
  const tts = ttsIdentity(config)
  // Delegate method by method: recorders are class instances, whose methods a spread would miss.
  const recorder: CallRecorder = {
    uuid: inner.uuid,
    rejected: (reason) => { inner.rejected(reason) },
    answered: (at) => { inner.answered(at) },
    contact: (name) => { inner.contact(name) },
    turn: (turn) => { inner.turn(turn) },
    latency: (latency) => { inner.latency(latency) },
    message: (message) => { inner.message(message) },
    error: (error) => { inner.error(error) },
    usage: (u) => {
      inner.usage(u)
      if ((u.sttSeconds ?? 0) > 0 && providers.stt) meter.addStt(providers.stt.name, undefined, u.sttSeconds ?? 0)
      if (((u.llmInputTokens ?? 0) > 0 || (u.llmOutputTokens ?? 0) > 0) && providers.llm) {
        meter.addLlm(providers.llm.name, providers.llm.model, u.llmInputTokens ?? 0, u.llmOutputTokens ?? 0)
      }
      if ((u.ttsCharacters ?? 0) > 0) meter.addTts(tts.provider, tts.model, u.ttsCharacters ?? 0)
    },
    end: async (e) => {
      const cost = meter.cost(config.speech.pricing)
      if (cost.total > 0) inner.usage({ costEstimate: cost.total })
      await inner.end(e)
    },
  }
  realtimeMeters.set(recorder, (u) => {
    meter.addLlm(u.provider, u.model, u.inputTokens, u.outputTokens)
    inner.usage({ llmInputTokens: u.inputTokens, llmOutputTokens: u.outputTokens })
  })
  return recorder
}

export interface RealtimeUsageInput {
  /** The speech-to-speech vendor (`openai`, `gemini`): priced as `speech.pricing.llm["vendor:model"]`. */
  readonly provider: string
  readonly model: string
  readonly inputTokens: number
  readonly outputTokens: number
}

const realtimeMeters = new WeakMap<CallRecorder, (u: RealtimeUsageInput) => void>()

/**
 * A realtime session's tokens: on the record, and metered under the vendor's own name (not the
 * pipeline's language model, which `usage()` would bill them to). No-op for a recorder that
 * meteredRecorder did not make.
 */
export function recordRealtimeUsage (recorder: CallRecorder, usage: RealtimeUsageInput): void {
  realtimeMeters.get(recorder)?.(usage)
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
