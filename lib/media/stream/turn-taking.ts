import { z } from 'zod'

/**
 * Turn-taking settings for stream mode (`media.stream.endpointing`, `media.stream.bargeIn`;
 * a route may override endpointing). Composed into the config by lib/config/schema.ts.
 */

export const endpointingSchema = z.strictObject({
  /**
   * Decide the end of the caller's turn from their words: a finished sentence ends it after
   * `minSilenceMs`, words that trail off ("and…", "perché…", a number being dictated) wait up to
   * `maxSilenceMs`. Off: every turn ends after `media.stream.vad.endSilenceMs`.
   */
  adaptive: z.boolean().default(true),
  minSilenceMs: z.number().int().min(150).max(1500).default(250),
  maxSilenceMs: z.number().int().min(300).max(4000).default(1500),
  /**
   * Preemptive replies: at `preemptAfterMs` of silence the recogniser finishes what was said and,
   * when the words are finished, the model (and the synthesis of its first sentence) start before
   * the end of the turn is confirmed. Nothing is played or kept in the history until it is; if
   * the caller goes on, the work is discarded (counted, and its tokens billed).
   */
  preemptive: z.boolean().default(true),
  /** Silence at which a preemptive reply starts (at most `minSilenceMs`). */
  preemptAfterMs: z.number().int().min(40).max(1500).default(100),
}).refine((e) => e.minSilenceMs < e.maxSilenceMs, 'minSilenceMs must be below maxSilenceMs')

export const bargeInSchema = z.strictObject({
  /** The caller's speech stops the agent mid-sentence. */
  enabled: z.boolean().default(true),
  /**
   * Voiced speech that confirms an interruption without waiting for its words: shorter
   * overlaps (a cough, "mm", "sì") only pause the agent, and it goes on where it paused unless
   * the words say otherwise ("stop", "aspetta", a question).
   */
  minSpeechMs: z.number().int().min(60).max(2000).default(300),
  /** Voiced speech that pauses the agent at once (the first step). */
  pauseAfterMs: z.number().int().min(20).max(500).default(60),
  /** Overlapping speech this long is a barge-in whatever it says. */
  confirmAfterMs: z.number().int().min(200).max(3000).default(900),
  /**
   * Our own voice coming back on the caller's line (line or handset echo) is not the caller:
   * frames the echo guard explains entirely by what we sent are heard as silence.
   */
  echoGuard: z.boolean().default(true),
}).refine((b) => b.pauseAfterMs <= b.minSpeechMs, 'pauseAfterMs must not exceed minSpeechMs')

export type EndpointingConfig = z.infer<typeof endpointingSchema>
export type BargeInConfig = z.infer<typeof bargeInSchema>
