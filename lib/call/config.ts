import { z } from 'zod'
import { bargeInSchema, endpointingSchema } from '../media/stream/turn-taking.ts'
import { streamSchema } from '../media/stream/config.ts'
import type { SpeechConfig } from '../speech/config.ts'
import type { HangupCause } from '../freeswitch/hangup-causes.ts'
import { callRecordingSchema } from './recording/config.ts'

/**
 * What a call is configured with: routes, transfer targets and the stream's settings are the
 * call's own schemas (lib/config/schema.ts places them in the one config file), and `CallConfig`
 * is the slice of the whole config a call reads, so nothing in lib/call imports lib/config.
 */

/** BCP-47 language tag as providers take it: `it-IT`, `de-DE`, `en-US`. */
export const languageTag = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'expected a language tag such as it-IT')
export const mediaMode = z.enum(['files', 'stream'])

export const mediaStreamSchema = streamSchema.extend({
  /** FreeSWITCH's address for the stream (`local-ip` of `unicast`). */
  freeswitchAddress: z.string().min(1).default('127.0.0.1'),
  /**
   * Ports FreeSWITCH may bind for its side of the stream (`local-port`). Needed when FreeSWITCH
   * runs on another host; on this host a free port is picked for each call.
   */
  freeswitchPorts: z.strictObject({ min: z.number().int().min(1024).max(65535), max: z.number().int().min(1024).max(65535) })
    .refine((r) => r.min <= r.max, 'min must not exceed max').optional(),
  bargeIn: bargeInSchema.prefault({}),
  endpointing: endpointingSchema.prefault({}),
  /** Audio kept from before the detected start of speech, so the first syllable reaches STT. */
  preRollMs: z.number().int().min(0).max(1000).default(300),
  /** Whole-call recording (routes with `recordCall`): the consent line played first. */
  recording: callRecordingSchema.prefault({}),
})

export const routeSchema = z.strictObject({
  /** A built-in script name (`take-message`) or a name from `scripts:`. */
  script: z.string().min(1),
  language: languageTag.optional(),
  voice: z.string().optional(),
  mediaMode: mediaMode.optional(),
  /** Stream mode: this route's end-of-turn timing (e.g. longer pauses for a dictation line). */
  endpointing: endpointingSchema.optional(),
  /** Free-form settings handed to the script as `call.options`. */
  options: z.record(z.string(), z.unknown()).default({}),
  /** Stream mode: record the whole call as a stereo WAV (caller left, agent right). */
  recordCall: z.boolean().optional(),
})

export const transferTargetSchema = z.discriminatedUnion('type', [
  z.strictObject({
    /** `transfer EXT XML CONTEXT`: hands the call back to the dialplan, which applies its own outbound rules. */
    type: z.literal('extension'),
    extension: z.string().regex(/^[A-Za-z0-9_+*#.-]{1,64}$/),
    context: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('default'),
    dialplan: z.enum(['XML', 'inline']).default('XML'),
  }),
  z.strictObject({
    /** `bridge DIALSTRING`: e.g. `user/1000@$${domain}` or `sofia/gateway/provider/+3902...`. */
    type: z.literal('endpoint'),
    /** Legs may be listed with `,` (rung at once) and `|` (one after another); `[vars]` per leg. */
    dialString: z.string().regex(/^[A-Za-z0-9_+*#@.:/=$${}[\]<>,|;-]{1,256}$/, 'a FreeSWITCH dial string without spaces, quotes or control characters'),
  }),
])

export type RouteConfig = z.infer<typeof routeSchema>
export type TransferTarget = z.infer<typeof transferTargetSchema>
export type MediaStreamConfig = z.infer<typeof mediaStreamSchema>

/** Messages by language (the primary subtag: en, it, de). */
type Messages = Readonly<Record<string, string>>

/** The slice of the validated config (lib/config/load.ts `Config`) a call reads. */
export interface CallConfig {
  readonly server: { readonly commandTimeoutMs: number }
  readonly media: {
    readonly mode: 'files' | 'stream'
    /** Absolute, and as FreeSWITCH sees it (the same directory unless mounted elsewhere). */
    readonly soundsDir: string
    readonly freeswitchSoundsDir: string
    readonly stream: MediaStreamConfig
  }
  readonly numbers: { readonly defaultCountry: string }
  readonly language: string
  /** E.164 DID -> route. */
  readonly routes: Readonly<Record<string, RouteConfig>>
  readonly defaultRoute?: RouteConfig | undefined
  readonly unknownDid: { readonly hangupCause: HangupCause }
  readonly transfers: Readonly<Record<string, TransferTarget>>
  readonly messages: { readonly apology: Messages, readonly busy: Messages, readonly shutdown: Messages }
  /** For the call's cost: the first TTS and the prices. */
  readonly speech: Pick<SpeechConfig, 'tts' | 'pricing'>
}
