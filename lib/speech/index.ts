import type { Logger } from 'pino'
import { ConfigError } from '../errors.ts'
import { LazyPackage } from '../lazy-package.ts'
import { AnthropicLlm } from '../llm/anthropic.ts'
import { createAnthropicClient } from '../llm/anthropic-client.ts'
import { FailoverLlm } from '../llm/failover.ts'
import { OpenAiLlm } from '../llm/openai.ts'
import type { LlmProvider } from '../llm/types.ts'
import { ProviderBreaker, type ProviderObserver, type ProviderRole } from '../providers/breaker.ts'
import { ProviderChain, type ChainMember } from '../providers/failover.ts'
import { googleClientOptions } from '../providers/google-client.ts'
import { createOpenAiClient } from '../providers/openai-client.ts'
import { ProviderQueue } from '../providers/queue.ts'
import type { RetryPolicy } from '../providers/retry.ts'
import { llmProviders, sttProviders, ttsProviders, type Configured, type LlmEntry, type SpeechConfig, type SttEntry, type TtsEntry } from './config.ts'
import { FailoverStt } from './stt/failover.ts'
import { GoogleStt } from './stt/google.ts'
import { OpenAiStt } from './stt/openai.ts'
import { OpenAiStreamingStt, realtimeTranscriptionUrl } from './stt/openai-streaming.ts'
import type { SttProvider } from './stt/types.ts'
import { FailoverTts } from './tts/failover.ts'
import { GoogleTts } from './tts/google.ts'
import { OpenAiTts } from './tts/openai.ts'
import type { TtsProvider } from './types.ts'

/** Google's clients (google-gax, gRPC, protobufs) are loaded only where a Google provider is configured. */
const googleSpeech = new LazyPackage<typeof import('@google-cloud/speech')>('@google-cloud/speech')
const googleTts = new LazyPackage<typeof import('@google-cloud/text-to-speech')>('@google-cloud/text-to-speech')

/**
 * Builds the configured providers once at start-up. Secrets come from the environment variables
 * the config names; a missing one fails here, with the field, not on the first call. Each role
 * is a chain of its providers in order, each with its own queue and circuit breaker (shared by
 * every call in the process); one provider is a chain of one.
 */

export interface Providers {
  readonly stt: FailoverStt | undefined
  readonly llm: FailoverLlm | undefined
  /** The configured TTS; an `offline` entry is the voice passed in `offlineTts`. */
  readonly tts: FailoverTts | undefined
  /** One queue per provider, for metrics and shutdown. */
  readonly queues: readonly ProviderQueue[]
  /** Closes gRPC channels. */
  close (): Promise<void>
}

export interface BuildOptions {
  readonly env: NodeJS.ProcessEnv
  /** The config's top-level `language`, used when `speech.stt.language` is not set. */
  readonly language: string
  readonly log?: Logger | undefined
  /** The offline voice (lib/speech/tts/offline.ts), built by its owner. */
  readonly offlineTts?: TtsProvider | undefined
  /** Breaker states and failovers (lib/ops/metrics.ts). */
  readonly observer?: ProviderObserver | undefined
  /** Monotonic milliseconds for the breakers' cool-downs (tests). */
  readonly clock?: () => number
  /** Leave TTS out (the caller brings its own voice). */
  readonly withoutTts?: boolean
}

function secret (env: NodeJS.ProcessEnv, field: string, name: string | undefined): string | undefined {
  if (name === undefined) return undefined
  const value = env[name]
  if (value === undefined || value === '') throw new ConfigError(field, `environment variable ${name} is not set`)
  return value
}

/** What every provider of a role is built with. */
interface Shared {
  readonly retry: RetryPolicy
  readonly log: Logger | undefined
  queue (name: string, concurrency: number | undefined): ProviderQueue
  timeoutMs (own: number | undefined): number
  closeLater (close: () => Promise<void>): void
}

export function buildProviders (config: SpeechConfig, options: BuildOptions): Providers {
  const { env, log } = options
  const queues: ProviderQueue[] = []
  const closers: Array<() => Promise<void>> = []
  const shared = (role: ProviderRole, section: { concurrency: number, timeoutMs: number }, name: string): Shared => ({
    retry: config.retry,
    log: log?.child({ provider: name, role }),
    queue: (n, concurrency) => {
      const q = new ProviderQueue(`${role}:${n}`, concurrency ?? section.concurrency)
      queues.push(q)
      return q
    },
    timeoutMs: (own) => own ?? section.timeoutMs,
    closeLater: (close) => { closers.push(close) },
  })
  const chain = <E extends { name: string }, P extends { readonly name: string }>(role: ProviderRole, section: { concurrency: number, timeoutMs: number }, entries: Array<Configured<E>>, build: (c: Configured<E>, s: Shared) => P): ProviderChain<P> | undefined => {
    if (entries.length === 0) return undefined
    const members: Array<ChainMember<P>> = entries.map((c) => ({
      provider: build(c, shared(role, section, c.entry.name)),
      breaker: new ProviderBreaker({
        ...config.breaker, role, provider: c.entry.name, observer: options.observer, log: log?.child({ provider: c.entry.name, role }),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      }),
    }))
    return new ProviderChain(role, members, { observer: options.observer, log: log?.child({ role }) })
  }

  const sttLanguage = config.stt.language ?? options.language
  const stt = chain('stt', config.stt, sttProviders(config.stt), (c, s) => buildStt(c, s, env, { language: sttLanguage, hints: config.stt.hints }))
  const llm = chain('llm', config.llm, llmProviders(config.llm), (c, s) => buildLlm(c, s, env))
  // Without the offline voice's instance its entry is left out (as before lists: no TTS).
  const voices = ttsProviders(config.tts).filter((c) => c.entry.provider !== 'offline' || options.offlineTts !== undefined)
  const tts = options.withoutTts === true ? undefined : chain('tts', config.tts, voices, (c, s) => buildTts(c, s, env, options))

  return {
    stt: stt === undefined ? undefined : new FailoverStt(stt),
    llm: llm === undefined ? undefined : new FailoverLlm(llm),
    tts: tts === undefined ? undefined : new FailoverTts(tts),
    queues,
    close: async () => { await Promise.allSettled(closers.map(c => c())) },
  }
}

function buildStt ({ field, entry: c }: Configured<SttEntry>, s: Shared, env: NodeJS.ProcessEnv, o: { language: string, hints: readonly string[] }): SttProvider {
  const common = { name: c.name, language: o.language, hints: o.hints, queue: s.queue(c.name, c.concurrency), retry: s.retry, timeoutMs: s.timeoutMs(c.timeoutMs), log: s.log }
  if (c.provider === 'openai' && c.streaming) {
    return new OpenAiStreamingStt({ ...common, url: realtimeTranscriptionUrl(c.baseUrl), apiKey: secret(env, `${field}.apiKeyEnv`, c.apiKeyEnv), model: c.model })
  }
  if (c.provider === 'openai') {
    return new OpenAiStt({ ...common, client: createOpenAiClient({ baseUrl: c.baseUrl, apiKey: secret(env, `${field}.apiKeyEnv`, c.apiKeyEnv) }), model: c.model })
  }
  const client = new (googleSpeech.get().SpeechClient)(googleClientOptions({ ...c, apiKey: secret(env, `${field}.apiKeyEnv`, c.apiKeyEnv) }))
  s.closeLater(() => client.close())
  return new GoogleStt({ ...common, client, model: c.model, useEnhanced: c.useEnhanced, punctuation: c.punctuation })
}

function buildLlm ({ field, entry: c }: Configured<LlmEntry>, s: Shared, env: NodeJS.ProcessEnv): LlmProvider {
  if (c.provider === 'anthropic') {
    return new AnthropicLlm({
      // The key is required: the schema defaults apiKeyEnv, and `secret` fails when it is unset.
      client: createAnthropicClient({ baseUrl: c.baseUrl, apiKey: secret(env, `${field}.apiKeyEnv`, c.apiKeyEnv) ?? '' }),
      name: c.name, model: c.model, temperature: c.temperature, maxTokens: c.maxTokens,
      queue: s.queue(c.name, c.concurrency), retry: s.retry, timeoutMs: s.timeoutMs(c.timeoutMs), log: s.log,
    })
  }
  return new OpenAiLlm({
    client: createOpenAiClient({ baseUrl: c.baseUrl, apiKey: secret(env, `${field}.apiKeyEnv`, c.apiKeyEnv) }),
    name: c.name, model: c.model, temperature: c.temperature, maxTokens: c.maxTokens,
    queue: s.queue(c.name, c.concurrency), retry: s.retry, timeoutMs: s.timeoutMs(c.timeoutMs), log: s.log,
  })
}

function buildTts ({ field, entry: c }: Configured<TtsEntry>, s: Shared, env: NodeJS.ProcessEnv, o: BuildOptions): TtsProvider {
  if (c.provider === 'offline') return o.offlineTts as TtsProvider
  if (c.provider === 'openai') {
    return new OpenAiTts({
      client: createOpenAiClient({ baseUrl: c.baseUrl, apiKey: secret(env, `${field}.apiKeyEnv`, c.apiKeyEnv) }),
      name: c.name, model: c.model, voice: c.voice, format: c.format, sampleRate: c.sampleRate,
      queue: s.queue(c.name, c.concurrency), retry: s.retry, timeoutMs: s.timeoutMs(c.timeoutMs), log: s.log,
    })
  }
  const client = new (googleTts.get().TextToSpeechClient)(googleClientOptions({ ...c, apiKey: secret(env, `${field}.apiKeyEnv`, c.apiKeyEnv) }))
  s.closeLater(() => client.close())
  return new GoogleTts({
    client, name: c.name, voice: c.voice, language: o.language, speakingRate: c.speakingRate,
    queue: s.queue(c.name, c.concurrency), retry: s.retry, timeoutMs: s.timeoutMs(c.timeoutMs), log: s.log,
  })
}
