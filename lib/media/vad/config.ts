import { z } from 'zod'

/** VAD and endpointing settings (`media.stream.vad` once wired into the config). */
export const vadSchema = z.strictObject({
  /** Silence that ends the caller's turn. */
  endSilenceMs: z.number().int().min(200).max(2000).default(500),
  /** Voiced audio needed before speech counts (coughs, clicks and "mm" stay below it). */
  minSpeechMs: z.number().int().min(60).max(2000).default(200),
  /** Frames below this level never count as speech, whatever the noise floor. */
  minEnergyDb: z.number().min(-80).max(-10).default(-45),
  /** Level above the tracked noise floor a frame needs. */
  snrDb: z.number().min(0).max(40).default(9),
})

export type VadConfig = z.infer<typeof vadSchema>
