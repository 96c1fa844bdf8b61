import { SpeechClient } from '@google-cloud/speech'
import { TextToSpeechClient } from '@google-cloud/text-to-speech'
import type { Logger } from 'pino'
import { ConfigError } from '../errors.ts'
import { OpenAiLlm } from '../llm/openai.ts'
import type { LlmProvider } from '../llm/types.ts'
import { googleClientOptions } from '../providers/google-client.ts'
import { createOpenAiClient } from '../providers/openai-client.ts'
import { ProviderQueue } from '../providers/queue.ts'
import type { RetryPolicy } from '../providers/retry.ts'
import type { SpeechConfig } from './config.ts'
import { GoogleStt } from './stt/google.ts'
import { OpenAiStt } from './stt/openai.ts'
import type { SttProvider } from './stt/types.ts'
import { GoogleTts } from './tts/google.ts'
import { OpenAiTts } from './tts/openai.ts'
import type { TtsProvider } from './types.ts'

/**
 * Builds the configured providers once at start-up. Secrets come from the environment variables
 * the config names; a missing one fails here, with the field, not on the first call.
 */

export interface Providers {
  readonly stt: SttProvider | undefined
  readonly llm: LlmProvider | undefined
  /** The configured TTS; for `offline` it is the one passed in `offlineTts`. */
  readonly tts: TtsProvider | undefined
  /** One queue per role, for metrics and shutdown. */
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
}

function secret (env: NodeJS.ProcessEnv, field: string, name: string | undefined): string | undefined {
  if (name === undefined) return undefined
  const value = env[name]
  if (value === undefined || value === '') throw new ConfigError(field, `environment variable ${name} is not set`)
  return value
}

export function buildProviders (config: SpeechConfig, options: BuildOptions): Providers {
  const { env, log } = options
  const retry: RetryPolicy = config.retry
  const queues: ProviderQueue[] = []
  const closers: Array<() => Promise<void>> = []
  const queueFor = (role: string, name: string, concurrency: number): ProviderQueue => {
    const q = new ProviderQueue(`${role}:${name}`, concurrency)
    queues.push(q)
    return q
  }
  const childLog = (role: string, name: string): Logger | undefined => log?.child({ provider: name, role })

  let stt: SttProvider | undefined
  const s = config.stt
  const sttLanguage = s.language ?? options.language
  if (s.provider === 'openai') {
    const c = s.openai
    stt = new OpenAiStt({
      client: createOpenAiClient({ baseUrl: c.baseUrl, apiKey: secret(env, 'speech.stt.openai.apiKeyEnv', c.apiKeyEnv) }),
      name: c.name, model: c.model, language: sttLanguage, hints: s.hints,
      queue: queueFor('stt', c.name, s.concurrency), retry, timeoutMs: s.timeoutMs, log: childLog('stt', c.name),
    })
  } else if (s.provider === 'google') {
    const c = s.google
    const client = new SpeechClient(googleClientOptions({ ...c, apiKey: secret(env, 'speech.stt.google.apiKeyEnv', c.apiKeyEnv) }))
    closers.push(() => client.close())
    stt = new GoogleStt({
      client, name: c.name, model: c.model, useEnhanced: c.useEnhanced, punctuation: c.punctuation, language: sttLanguage, hints: s.hints,
      queue: queueFor('stt', c.name, s.concurrency), retry, timeoutMs: s.timeoutMs, log: childLog('stt', c.name),
    })
  }

  let llm: LlmProvider | undefined
  const l = config.llm
  if (l.provider === 'openai') {
    const c = l.openai
    llm = new OpenAiLlm({
      client: createOpenAiClient({ baseUrl: c.baseUrl, apiKey: secret(env, 'speech.llm.openai.apiKeyEnv', c.apiKeyEnv) }),
      name: c.name, model: c.model, temperature: c.temperature, maxTokens: c.maxTokens,
      queue: queueFor('llm', c.name, l.concurrency), retry, timeoutMs: l.timeoutMs, log: childLog('llm', c.name),
    })
  }

  let tts: TtsProvider | undefined
  const t = config.tts
  if (t.provider === 'offline') {
    tts = options.offlineTts
  } else if (t.provider === 'openai') {
    const c = t.openai
    tts = new OpenAiTts({
      client: createOpenAiClient({ baseUrl: c.baseUrl, apiKey: secret(env, 'speech.tts.openai.apiKeyEnv', c.apiKeyEnv) }),
      name: c.name, model: c.model, voice: c.voice, format: c.format, sampleRate: c.sampleRate,
      queue: queueFor('tts', c.name, t.concurrency), retry, timeoutMs: t.timeoutMs, log: childLog('tts', c.name),
    })
  } else {
    const c = t.google
    const client = new TextToSpeechClient(googleClientOptions({ ...c, apiKey: secret(env, 'speech.tts.google.apiKeyEnv', c.apiKeyEnv) }))
    closers.push(() => client.close())
    tts = new GoogleTts({
      client, name: c.name, voice: c.voice, language: options.language, speakingRate: c.speakingRate,
      queue: queueFor('tts', c.name, t.concurrency), retry, timeoutMs: t.timeoutMs, log: childLog('tts', c.name),
    })
  }

  return {
    stt, llm, tts, queues,
    close: async () => { await Promise.allSettled(closers.map(c => c())) },
  }
}
