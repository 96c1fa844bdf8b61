import { z } from 'zod'

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

export const ttsSchema = z.strictObject({
  provider: z.enum(['offline', 'google', 'openai']).default('offline'),
  offline: offlineVoiceSchema.prefault({}),
  google: googleTtsSchema.prefault({}),
  openai: openaiTtsSchema.prefault({}),
  /** Bound on the sounds/cache/ directory; the least recently used files go first. */
  cacheMaxMegabytes: z.number().positive().default(512),
  ...limits,
  timeoutMs: limits.timeoutMs.default(20_000),
})

export const openaiSttSchema = z.strictObject({
  ...openaiCompatible,
  /** `whisper-1`, `gpt-4o-mini-transcribe`, Groq's `whisper-large-v3-turbo`, a local server's model name. */
  model: z.string().min(1).default('whisper-1'),
})

export const googleSttSchema = z.strictObject({
  ...googleConnection,
  /** Google recognition model: `phone_call`, `telephony`, `latest_short`, `default`, ... */
  model: z.string().regex(/^[a-z0-9_]+$/).default('phone_call'),
  useEnhanced: z.boolean().default(true),
  punctuation: z.boolean().default(true),
})

export const sttSchema = z.strictObject({
  provider: z.enum(['none', 'openai', 'google']).default('none'),
  /** Overrides the top-level `language` (and a route's) only when set. */
  language: language.optional(),
  /** Phrase hints: names, products, words the recogniser should prefer. */
  hints: z.array(z.string().min(1).max(100)).max(500).default([]),
  openai: openaiSttSchema.prefault({}),
  google: googleSttSchema.prefault({}),
  ...limits,
  timeoutMs: limits.timeoutMs.default(15_000),
})

export const openaiLlmSchema = z.strictObject({
  ...openaiCompatible,
  model: z.string().min(1).default('gpt-4o-mini'),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().optional(),
})

export const llmSchema = z.strictObject({
  provider: z.enum(['none', 'openai']).default('none'),
  openai: openaiLlmSchema.prefault({}),
  ...limits,
  timeoutMs: limits.timeoutMs.default(30_000),
})

export const retrySchema = z.strictObject({
  /** Attempts in total (1 = never retry); the deadline usually ends retries first. */
  maxAttempts: z.number().int().min(1).max(10).default(4),
  baseDelayMs: z.number().int().positive().default(200),
  maxDelayMs: z.number().int().positive().default(3000),
})

/**
 * Prices for the usage estimate, keyed `provider:model` or just `provider` (the configured
 * `name`, so a Groq endpoint named `groq` gets Groq's prices). Unknown keys cost zero.
 */
export const pricingSchema = z.strictObject({
  currency: z.string().regex(/^[A-Z]{3}$/).default('USD'),
  stt: z.record(z.string(), z.strictObject({ perMinute: z.number().nonnegative() })).default({}),
  llm: z.record(z.string(), z.strictObject({
    inputPerMillionTokens: z.number().nonnegative(),
    outputPerMillionTokens: z.number().nonnegative(),
  })).default({}),
  tts: z.record(z.string(), z.strictObject({ perMillionCharacters: z.number().nonnegative() })).default({}),
})

export const speechSchema = z.strictObject({
  tts: ttsSchema.prefault({}),
  stt: sttSchema.prefault({}),
  llm: llmSchema.prefault({}),
  retry: retrySchema.prefault({}),
  pricing: pricingSchema.prefault({}),
})

export type SpeechConfig = z.infer<typeof speechSchema>
export type TtsConfig = z.infer<typeof ttsSchema>
export type SttConfig = z.infer<typeof sttSchema>
export type LlmConfig = z.infer<typeof llmSchema>
export type RetryConfig = z.infer<typeof retrySchema>
export type PricingConfig = z.infer<typeof pricingSchema>
export type OpenAiLlmConfig = z.infer<typeof openaiLlmSchema>
export type OpenAiSttConfig = z.infer<typeof openaiSttSchema>
export type OpenAiTtsConfig = z.infer<typeof openaiTtsSchema>
export type GoogleSttConfig = z.infer<typeof googleSttSchema>
export type GoogleTtsConfig = z.infer<typeof googleTtsSchema>
