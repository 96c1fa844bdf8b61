import { z } from 'zod'

/**
 * Whole-call recording (stream mode): which routes record is said per route (`recordCall`);
 * what the caller is told first is said here (`media.stream.recording`).
 */

const DEFAULT_CONSENT: Record<string, string> = {
  en: 'This call is recorded.',
  it: 'Questa chiamata viene registrata.',
  de: 'Dieses Gespräch wird aufgezeichnet.',
}

export const callRecordingSchema = z.strictObject({
  /** A line played before recording starts, on every recorded call. */
  consent: z.strictObject({
    enabled: z.boolean().default(true),
    /** By language (the primary subtag: en, it, de). */
    text: z.record(z.string().regex(/^[a-z]{2,3}$/), z.string().min(1).max(500)).default(DEFAULT_CONSENT),
  }).prefault({}),
})

export type CallRecordingConfig = z.infer<typeof callRecordingSchema>

/** The consent line in the call's language (its primary subtag, else English, else any), or undefined when off. */
export function consentText (config: CallRecordingConfig, language: string): string | undefined {
  if (!config.consent.enabled) return undefined
  const texts = config.consent.text
  return texts[language.split('-')[0]?.toLowerCase() ?? 'en'] ?? texts.en ?? Object.values(texts)[0]
}
