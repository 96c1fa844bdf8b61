import { agentSchema } from '../../agent/config.ts'
import type { VerbContext } from '../context.ts'
import { DeadAir, fillerFor } from '../conversation/dead-air.ts'
import { turnMediaFor } from '../turn-media-for.ts'
import type { Heard, ListenOptions, TurnMedia } from '../turn-media.ts'

export interface AskOptions {
  /** Give up when the caller has not started speaking after this long. Default 5000. */
  readonly noInputMs?: number
  /** Longest answer. Default 15000. */
  readonly maxSpeechMs?: number
  /** A transcript below this confidence (when the recogniser reports one) is a no-match. */
  readonly minConfidence?: number
  /** Times to ask again (with `reprompt`, else the prompt) after no-input or no-match. Default 0. */
  readonly retries?: number
  readonly reprompt?: string
  readonly language?: string
  readonly voice?: string
  /** Words the recogniser should prefer (names, products, the expected answers). */
  readonly hints?: readonly string[]
  readonly signal?: AbortSignal | undefined
}

export type AskResult =
  | { readonly kind: 'speech', readonly text: string, readonly confidence: number | undefined, readonly startedAt: number, readonly endedAt: number }
  | { readonly kind: 'no-input' }
  | { readonly kind: 'no-match' }

/**
 * Speak a prompt, then listen for the answer (play-and-detect-speech). Resolves with the
 * transcript, or a typed no-input / no-match once the retries are used up. Rejects with
 * CallHangupError when the caller hangs up, and with a provider error when STT fails, or
 * PROVIDER_TIMEOUT when the recogniser keeps the caller waiting past the dead-air budget
 * (`agent.deadlines.deadAirMs`, with its fillers; `turnMs` at most).
 */
export async function ask (ctx: VerbContext, prompt: string, options: AskOptions = {}): Promise<AskResult> {
  const media: TurnMedia = turnMediaFor(ctx)
  const signal = options.signal ? AbortSignal.any([ctx.signal, options.signal]) : ctx.signal
  const language = options.language ?? ctx.language
  const voice = options.voice ?? ctx.voice
  const retries = Math.max(0, Math.floor(options.retries ?? 0))
  let result: AskResult = { kind: 'no-input' }
  for (let attempt = 0; attempt <= retries; attempt++) {
    const text = attempt === 0 ? prompt : options.reprompt ?? prompt
    if (text.trim() !== '') {
      const at = Date.now()
      await media.speak(once(text), { language, voice }, signal)
      ctx.recorder.turn({ role: 'agent', text, at })
    }
    const heard = await listenWithin(ctx, media, {
      noInputMs: options.noInputMs ?? 5000,
      maxSpeechMs: options.maxSpeechMs ?? 15_000,
      language,
      hints: options.hints,
    }, voice, signal)
    if (heard.kind === 'no-input') { result = heard; continue }
    if (heard.kind === 'no-match' || (options.minConfidence !== undefined && heard.confidence !== undefined && heard.confidence < options.minConfidence)) {
      result = { kind: 'no-match' }
      continue
    }
    ctx.recorder.turn({ role: 'caller', text: heard.text, at: heard.endedAt })
    ctx.recorder.usage({ sttSeconds: heard.audioMs / 1000 })
    return { kind: 'speech', text: heard.text, confidence: heard.confidence, startedAt: heard.startedAt, endedAt: heard.endedAt }
  }
  return result
}

/** A listen whose wait for the transcript, from the end of speech, is on the dead-air clock. */
async function listenWithin (ctx: VerbContext, media: TurnMedia, options: ListenOptions, voice: string | undefined, signal: AbortSignal): Promise<Heard> {
  const { deadlines, fillers } = ctx.agent?.config ?? agentSchema.parse({})
  const expired = new AbortController()
  const sig = AbortSignal.any([signal, expired.signal])
  const dead = new DeadAir({
    budgetMs: deadlines.deadAirMs,
    maxFillers: fillers.max,
    fill: fillerFor(ctx, options.language, voice),
    mayFill: () => true,
    expire: (reason) => { expired.abort(reason) },
    signal: sig,
    log: ctx.log,
  })
  try {
    return await media.listen({
      ...options,
      onSpeechEnd: (at) => {
        dead.owe(at)
        dead.deadlineAt(at + deadlines.turnMs, deadlines.turnMs)
      },
      onSpeechResumed: () => { dead.callerSpeaking() },
    }, sig)
  } finally {
    dead.dispose()
  }
}

async function * once (text: string): AsyncGenerator<string> {
  yield text
}
