import type { TranscriptEntry } from '../../agent/history.ts'
import type { ToolName } from '../../agent/tools.ts'
import type { VerbContext } from '../context.ts'
import { Conversation } from '../conversation/conversation.ts'
import { PhoneAgentError } from '../../errors.ts'
import { resolveRealtime, type ConversationMode, type RealtimeOverride } from '../../realtime/config.ts'
import { runRealtimeConversation } from '../realtime/conversation.ts'

export interface ConverseOptions {
  /** System instructions; default `agent.instructions`. */
  readonly instructions?: string | undefined
  /** First words; default the (personal) greeting from `agent:`. `false` says nothing first. */
  readonly greeting?: string | false | undefined
  /** Tools offered to the model; default `agent.tools`. */
  readonly tools?: readonly ToolName[] | undefined
  /** Transfer targets the model may choose; default `agent.transfers.offered` or all. */
  readonly targets?: readonly string[] | undefined
  /** What each target is for, told to the model ("sales: orders and quotes"). */
  readonly targetDescriptions?: Readonly<Record<string, string>> | undefined
  /** Default: the contact's language, else the route's. */
  readonly language?: string | undefined
  readonly voice?: string | undefined
  /** Words the recogniser should prefer (names, products). */
  readonly hints?: readonly string[] | undefined
  /** Caller turns before the goodbye; default unlimited (maxCallSeconds bounds the call). */
  readonly maxTurns?: number | undefined
  /** `pipeline` (STT -> LLM -> TTS) or `realtime` (a speech-to-speech vendor); default `agent.mode`. */
  readonly mode?: ConversationMode | undefined
  /** Overrides of `agent.realtime` (vendor, model, voice, apiKeyEnv, ...) for this conversation. */
  readonly realtime?: RealtimeOverride | undefined
  readonly signal?: AbortSignal | undefined
}

export type ConverseEnd =
  | 'ended' // the model ended the call (end_call)
  | 'transferred' // the call went to a target (model, operator key or fallback)
  | 'no-input' // the caller stayed silent through every reprompt
  | 'max-duration' | 'max-turns'
  | 'fallback' // a provider failed and no transfer target took the call

export interface ConverseResult {
  readonly end: ConverseEnd
  readonly turns: number
  /** Where the call went, for `transferred`. */
  readonly target?: string | undefined
  /** The conversation as the caller heard it. */
  readonly transcript: readonly TranscriptEntry[]
}

/**
 * The AI conversation (STT -> LLM -> TTS turns with tools and fallbacks), configured by
 * `agent:`: see conversation/conversation.ts. In `realtime` mode a speech-to-speech vendor
 * replaces the three: see realtime/conversation.ts.
 */
export async function converse (ctx: VerbContext, options: ConverseOptions = {}): Promise<ConverseResult> {
  const agent = ctx.agent?.config
  if ((options.mode ?? agent?.mode) === 'realtime') {
    const settings = resolveRealtime(agent?.realtime, options.realtime)
    if (settings === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'a realtime conversation needs a vendor (agent.realtime.vendor)')
    return await runRealtimeConversation(ctx, options, settings)
  }
  return await new Conversation(ctx, options).run()
}
