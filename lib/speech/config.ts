import { z } from 'zod'
import { pricingSchema } from '../providers/pricing.ts'

/**
 * Speech settings (`speech:` in the config file). Secrets never live here: a provider names the
 * environment variable that holds its key (see README "Providers").
 */

/** Environment variable names only: the value is read from the environment at start-up. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name such as OPENAI_API_KEY')
/** Short stable name for logs, usage lines, price lookups and TTS cache keys. */
const providerName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'provider names are lower-case letters, digits, _ and -')
const url = z.url({ protocol: /^https?$/ })
const language = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'expected a language tag such as it-IT')

/** Bounded concurrency and a whole-request deadline (retries included), per provider. */
const limits = {
  /** Requests in flight at once for this provider; the rest wait in its queue. */
  concurrency: z.number().int().positive().max(256).default(4),
  /** The deadline for one request including every retry; the caller's own signal may end it sooner. */
  timeoutMs: z.number().int().positive().max(600_000).optional(),
}

/** A list entry's own limits; the role's apply when absent. */
const entryLimits = {
  concurrency: z.number().int().positive().max(256).optional(),
  timeoutMs: limits.timeoutMs,
}

/**
 * `providers:` of a role: entries tried in order, each `{ provider: <vendor>, ...that vendor's
 * settings }`. Names label metrics, usage and prices, so they must differ within the list.
 */
function providerList<T extends z.ZodType<{ provider: string, name: string }>> (entry: T) {
  return z.array(entry).min(1).max(8).superRefine((list, ctx) => {
    const seen = new Set<string>()
    list.forEach((e, i) => {
      if (seen.has(e.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${e.name}" is already the name of an earlier entry; give each provider its own name` })
      seen.add(e.name)
    })
  }).optional()
}

/** `provider` and `providers` are two ways to say the same thing: one of them, not both. */
function oneForm (defaultProvider: string) {
  return (role: { provider: string, providers?: unknown[] | undefined }, ctx: z.RefinementCtx): void => {
    if (role.providers !== undefined && role.provider !== defaultProvider) {
      ctx.addIssue({ code: 'custom', path: ['providers'], message: `set either provider (one) or providers (a list), not both; put "${role.provider}" in the list` })
    }
  }
}

/** Any server speaking the OpenAI REST API: OpenAI, Groq, Gemini, Anthropic, Ollama, vLLM, Whisper servers. */
const openaiCompatible = {
  name: providerName.default('openai'),
  baseUrl: url.default('https://api.openai.com/v1'),
  /** Absent for servers that take no key (Ollama, a local Whisper server). */
  apiKeyEnv: envName.optional(),
}

export const offlineVoiceSchema = z.strictObject({
  /** Flite voice (English): kal, kal16, awb, rms, slt. */
  voice: z.string().regex(/^[a-z0-9_]+$/).default('kal'),
  /** Optional espeak-ng binary for languages flite lacks (Italian, German, ...); GPL, never required. */
  espeakPath: z.string().optional(),
})

/**
 * Google Cloud credentials and endpoint. Credentials come from Application Default Credentials
 * (`GOOGLE_APPLICATION_CREDENTIALS` names a service-account key file) unless `apiKeyEnv` is set.
 */
const googleConnection = {
  name: providerName.default('google'),
  apiKeyEnv: envName.optional(),
  /** A regional endpoint (`eu-speech.googleapis.com`) or, for tests, a local fake. */
  apiEndpoint: z.string().regex(/^[A-Za-z0-9.-]+$/).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** Plain-text gRPC: only for a loopback fake. */
  insecure: z.boolean().default(false),
}

export const googleTtsSchema = z.strictObject({
  ...googleConnection,
  /** A Google voice name such as `it-IT-Wavenet-A`; Google picks one for the language when absent. */
  voice: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  speakingRate: z.number().min(0.25).max(4).optional(),
})

export const openaiTtsSchema = z.strictObject({
  ...openaiCompatible,
  model: z.string().min(1).default('gpt-4o-mini-tts'),
  voice: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('alloy'),
  /** `pcm` is raw 16-bit mono at `sampleRate` (24000 for OpenAI); `wav` carries its own rate. */
  format: z.enum(['pcm', 'wav']).default('pcm'),
  sampleRate: z.number().int().min(8000).max(48000).default(24000),
})

export const ttsEntrySchema = z.discriminatedUnion('provider', [
  offlineVoiceSchema.extend({ provider: z.literal('offline'), name: z.literal('offline').default('offline'), ...entryLimits }),
  googleTtsSchema.extend({ provider: z.literal('google'), ...entryLimits }),
  openaiTtsSchema.extend({ provider: z.literal('openai'), ...entryLimits }),
])

export const ttsSchema = z.strictObject({
  provider: z.enum(['offline', 'google', 'openai']).default('offline'),
  offline: offlineVoiceSchema.prefault({}),
  google: googleTtsSchema.prefault({}),
  openai: openaiTtsSchema.prefault({}),
  /** Instead of `provider`: voices tried in order (one offline voice at most: it is one engine). */
  providers: providerList(ttsEntrySchema),
  /** Bound on the sounds/cache/ directory; the least recently used files go first. */
  cacheMaxMegabytes: z.number().positive().default(512),
  /** Which sentences only streamed are written to the cache: `repeated` ones (tts-admission.ts) or `all`. */
  cacheAdmission: z.enum(['repeated', 'all']).default('repeated'),
  ...limits,
  timeoutMs: limits.timeoutMs.default(20_000),
}).superRefine(oneForm('offline'))

export const openaiSttSchema = z.strictObject({
  ...openaiCompatible,
  /** `whisper-1`, `gpt-4o-mini-transcribe`, Groq's `whisper-large-v3-turbo`, a local server's model name. */
  model: z.string().min(1).default('whisper-1'),
  /**
   * OpenAI only: a realtime transcription session over WebSocket (lib/speech/stt/openai-streaming.ts)
   * instead of one upload per utterance: audio goes up as the caller speaks, results stream back.
   */
  streaming: z.boolean().default(false),
})

export const googleSttSchema = z.strictObject({
  ...googleConnection,
  /** Google recognition model: `phone_call`, `telephony`, `latest_short`, `default`, ... */
  model: z.string().regex(/^[a-z0-9_]+$/).default('phone_call'),
  useEnhanced: z.boolean().default(true),
  punctuation: z.boolean().default(true),
})

export const sttEntrySchema = z.discriminatedUnion('provider', [
  openaiSttSchema.extend({ provider: z.literal('openai'), ...entryLimits }),
  googleSttSchema.extend({ provider: z.literal('google'), ...entryLimits }),
])

export const sttSchema = z.strictObject({
  provider: z.enum(['none', 'openai', 'google']).default('none'),
  /** Instead of `provider`: recognisers tried in order. */
  providers: providerList(sttEntrySchema),
  /** Overrides the top-level `language` (and a route's) only when set. */
  language: language.optional(),
  /** Phrase hints: names, products, words the recogniser should prefer. */
  hints: z.array(z.string().min(1).max(100)).max(500).default([]),
  openai: openaiSttSchema.prefault({}),
  google: googleSttSchema.prefault({}),
  ...limits,
  timeoutMs: limits.timeoutMs.default(15_000),
}).superRefine(oneForm('none'))

export const openaiLlmSchema = z.strictObject({
  ...openaiCompatible,
  model: z.string().min(1).default('gpt-4o-mini'),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().optional(),
})

/** Claude through Anthropic's own Messages API (lib/llm/anthropic.ts), not its OpenAI-compatible one. */
export const anthropicLlmSchema = z.strictObject({
  name: providerName.default('anthropic'),
  /** The SDK appends `/v1/messages`; a proxy or, in tests, a loopback fake. */
  baseUrl: url.default('https://api.anthropic.com'),
  apiKeyEnv: envName.default('ANTHROPIC_API_KEY'),
  model: z.string().min(1).default('claude-haiku-4-5'),
  /** Anthropic's range is 0 to 1. */
  temperature: z.number().min(0).max(1).optional(),
  /** Required by the Messages API; a spoken reply is short. */
  maxTokens: z.number().int().positive().max(64_000).default(1024),
})

export const llmEntrySchema = z.discriminatedUnion('provider', [
  openaiLlmSchema.extend({ provider: z.literal('openai'), ...entryLimits }),
  anthropicLlmSchema.extend({ provider: z.literal('anthropic'), ...entryLimits }),
])

export const llmSchema = z.strictObject({
  provider: z.enum(['none', 'openai', 'anthropic']).default('none'),
  openai: openaiLlmSchema.prefault({}),
  anthropic: anthropicLlmSchema.prefault({}),
  /** Instead of `provider`: models tried in order (e.g. Groq, then OpenAI). */
  providers: providerList(llmEntrySchema),
  ...limits,
  timeoutMs: limits.timeoutMs.default(30_000),
}).superRefine(oneForm('none'))

/** Circuit breakers, one per configured provider (docs/providers.md, "Failover and circuit breakers"). */
export const breakerSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Failed requests in a row (timeouts, 5xx, 429, broken connections) that open the breaker. */
  failures: z.number().int().min(1).max(1000).default(5),
  /** How long an open breaker skips its provider before one request probes it. */
  coolDownMs: z.number().int().min(100).max(3_600_000).default(30_000),
})

export const retrySchema = z.strictObject({
  /** Attempts in total (1 = never retry); the deadline usually ends retries first. */
  maxAttempts: z.number().int().min(1).max(10).default(4),
  baseDelayMs: z.number().int().positive().default(200),
  maxDelayMs: z.number().int().positive().default(3000),
})

export const speechSchema = z.strictObject({
  tts: ttsSchema.prefault({}),
  stt: sttSchema.prefault({}),
  llm: llmSchema.prefault({}),
  retry: retrySchema.prefault({}),
  breaker: breakerSchema.prefault({}),
  pricing: pricingSchema.prefault({}),
})

export type SpeechConfig = z.infer<typeof speechSchema>
export type TtsConfig = z.infer<typeof ttsSchema>
export type SttConfig = z.infer<typeof sttSchema>
export type LlmConfig = z.infer<typeof llmSchema>
export type RetryConfig = z.infer<typeof retrySchema>
export type BreakerConfig = z.infer<typeof breakerSchema>
export type SttEntry = z.infer<typeof sttEntrySchema>
export type LlmEntry = z.infer<typeof llmEntrySchema>
export type TtsEntry = z.infer<typeof ttsEntrySchema>
export type OpenAiLlmConfig = z.infer<typeof openaiLlmSchema>
export type AnthropicLlmConfig = z.infer<typeof anthropicLlmSchema>
export type OpenAiSttConfig = z.infer<typeof openaiSttSchema>
export type OpenAiTtsConfig = z.infer<typeof openaiTtsSchema>
export type GoogleSttConfig = z.infer<typeof googleSttSchema>
export type GoogleTtsConfig = z.infer<typeof googleTtsSchema>

/** One provider of a role, from either form, with the config path its settings live under. */
export interface Configured<E> {
  readonly field: string
  readonly entry: E
}

/** A role's providers in order: `providers:` when given, else the one `provider` (none: empty). */
function configured<E> (role: string, list: readonly E[] | undefined, single: E | undefined, singleField: string): Array<Configured<E>> {
  if (list !== undefined) return list.map((entry, i) => ({ field: `speech.${role}.providers.${i}`, entry }))
  return single === undefined ? [] : [{ field: singleField, entry: single }]
}

export function sttProviders (c: SttConfig): Array<Configured<SttEntry>> {
  const single: SttEntry | undefined = c.provider === 'openai' ? { provider: 'openai', ...c.openai } : c.provider === 'google' ? { provider: 'google', ...c.google } : undefined
  return configured('stt', c.providers, single, `speech.stt.${c.provider}`)
}

export function llmProviders (c: LlmConfig): Array<Configured<LlmEntry>> {
  const single: LlmEntry | undefined = c.provider === 'openai'
    ? { provider: 'openai', ...c.openai }
    : c.provider === 'anthropic' ? { provider: 'anthropic', ...c.anthropic } : undefined
  return configured('llm', c.providers, single, `speech.llm.${c.provider}`)
}

export function ttsProviders (c: TtsConfig): Array<Configured<TtsEntry>> {
  const single: TtsEntry = c.provider === 'openai'
    ? { provider: 'openai', ...c.openai }
    : c.provider === 'google' ? { provider: 'google', ...c.google } : { provider: 'offline', name: 'offline', ...c.offline }
  return configured('tts', c.providers, single, `speech.tts.${c.provider}`)
}
