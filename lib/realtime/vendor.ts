import { PhoneAgentError } from '../errors.ts'
import type { ResolvedRealtime } from './config.ts'
import { GeminiLive } from './gemini.ts'
import { OpenAiRealtime } from './openai.ts'
import type { RealtimeVendor } from './types.ts'

/** The vendor client for resolved settings; the key is read from the environment now, per call. */
export function createRealtimeVendor (settings: ResolvedRealtime, env: Readonly<Record<string, string | undefined>> = process.env): RealtimeVendor {
  const apiKey = env[settings.apiKeyEnv]
  if (apiKey === undefined || apiKey === '') {
    throw new PhoneAgentError('CONFIG_INVALID', `realtime: the environment variable ${settings.apiKeyEnv} (the ${settings.vendor} key) is not set`)
  }
  const common = { model: settings.model, apiKey, baseUrl: settings.baseUrl, voice: settings.voice }
  return settings.vendor === 'openai' ? new OpenAiRealtime(common) : new GeminiLive(common)
}
