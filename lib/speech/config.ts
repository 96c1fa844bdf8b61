import { z } from 'zod'

/**
 * Speech settings (`speech:` in the config file). Secrets never live here: a provider names the
 * environment variable that holds its key (see README "Providers").
 */
export const offlineVoiceSchema = z.strictObject({
  /** Flite voice (English): kal, kal16, awb, rms, slt. */
  voice: z.string().regex(/^[a-z0-9_]+$/).default('kal'),
  /** Optional espeak-ng binary for languages flite lacks (Italian, German, ...); GPL, never required. */
  espeakPath: z.string().optional(),
})

export const ttsSchema = z.strictObject({
  provider: z.enum(['offline']).default('offline'),
  offline: offlineVoiceSchema.default({ voice: 'kal' }),
  /** Bound on the sounds/cache/ directory; the least recently used files go first. */
  cacheMaxMegabytes: z.number().positive().default(512),
})

export const speechSchema = z.strictObject({
  tts: ttsSchema.default({ provider: 'offline', offline: { voice: 'kal' }, cacheMaxMegabytes: 512 }),
})

export type SpeechConfig = z.infer<typeof speechSchema>
