import { z } from 'zod'
import { textFor } from '../../agent/config.ts'

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

/** The consent line in the call's language (as the agent's phrases pick theirs, so the pre-rendered one is found), or undefined when off. */
export function consentText (config: CallRecordingConfig, language: string): string | undefined {
  return config.consent.enabled ? textFor(config.consent.text, language) : undefined
}
