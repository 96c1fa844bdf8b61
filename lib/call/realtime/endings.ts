import type { Logger } from 'pino'
import { textFor, type AgentConfig } from '../../agent/config.ts'
import type { TranscriptEntry } from '../../agent/history.ts'
import { PhoneAgentError, isCallEnded, isPhoneAgentError } from '../../errors.ts'
import { createDeadline } from '../../providers/retry.ts'
import type { VerbContext } from '../context.ts'
import type { OperatorKeyLane } from '../conversation/operator-key.ts'
import { playPath } from '../verbs/play.ts'
import type { TransferResult } from '../verbs/transfer.ts'
import type { ConverseEnd, ConverseResult } from '../verbs/converse.ts'
import { transferForAgent } from '../conversation/shared.ts'
import { hangup } from '../verbs/hangup.ts'

/** A fixed phrase must not hold a broken call open, even if TTS or FreeSWITCH stalls. */
const PHRASE_TIMEOUT_MS = 15_000

/**
 * What a realtime conversation says and does outside the vendor's session, the same way the
 * pipeline does (conversation/conversation.ts): fixed phrases (pre-rendered when possible, so
 * the apology never depends on a provider), transfers through the transfer verb (and so the
 * dial guard), the hand-off to a human after a failure, the goodbye. It also keeps the
 * transcript both sides, as the caller heard it, and writes it to the record.
 */
export class RealtimeEndings {
  readonly #ctx: VerbContext
  readonly #agent: AgentConfig
  readonly #language: string
  readonly #voice: string | undefined
  readonly #log: Logger
  readonly #operator: OperatorKeyLane
  readonly #fallbackTarget: string | undefined
  readonly transcript: TranscriptEntry[] = []
  turns = 0

  constructor (ctx: VerbContext, o: { agent: AgentConfig, language: string, voice: string | undefined, log: Logger, operator: OperatorKeyLane, fallbackTarget: string | undefined }) {
    this.#ctx = ctx
    this.#agent = o.agent
    this.#language = o.language
    this.#voice = o.voice
    this.#log = o.log
    this.#operator = o.operator
    this.#fallbackTarget = o.fallbackTarget
  }

  /** One side's words, as heard, in the record and the result. */
  heard (role: 'caller' | 'agent', text: string, at: number, interrupted = false): void {
    if (text.trim() === '' && !interrupted) return
    if (role === 'caller') this.turns++
    this.transcript.push({ role: role === 'caller' ? 'user' : 'assistant', text, at: new Date(at).toISOString(), interrupted })
    this.#ctx.recorder.turn({ role, text, at, ...(interrupted ? { interrupted } : {}) })
  }

  text (texts: Readonly<Record<string, string>>): string { return textFor(texts, this.#language) }

  /** A fixed phrase: pre-rendered when possible, else rendered now; heard in the transcript. */
  async say (text: string, signal: AbortSignal): Promise<void> {
    const at = Date.now()
    try {
      const path = this.#ctx.agent?.canned.lookup(text, this.#language, this.#voice) ??
        (await this.#ctx.speaker.render(text, { language: this.#language, voice: this.#voice, signal })).path
      await playPath(this.#ctx, path, { signal })
      this.heard('agent', text, at)
    } catch (err) {
      this.heard('agent', '', at, true)
      throw err
    }
  }

  /** Phrases said on the way out: bounded, and a failure there ends the call all the same. */
  async sayLast (text: string): Promise<void> {
    if (!this.#ctx.channel.isUp) return
    const deadline = createDeadline(this.#ctx.signal, PHRASE_TIMEOUT_MS)
    try {
      await this.say(text, deadline.signal)
    } catch (err) {
      if (!isCallEnded(err)) this.#log.warn({ code: isPhoneAgentError(err) ? err.code : 'unknown' }, 'could not say the closing phrase')
    } finally {
      deadline.dispose()
    }
  }

  /** A transfer the operator key may stop while it rings; a failure is a result, not a throw. */
  async transfer (target: string): Promise<TransferResult> {
    return await transferForAgent(this.#ctx, this.#agent, this.#operator, this.#log, target)
  }

  /** Fallback and operator: to the human (voicemail out of hours), then the other if that fails. */
  async handOff (end: ConverseEnd): Promise<ConverseResult | undefined> {
    const targets = [...new Set([this.#fallbackTarget, this.#agent.transfers.afterHours].filter((t): t is string => t !== undefined))]
    for (const target of targets) {
      const result = await this.transfer(target)
      if (result.connected || this.#ctx.status.handedOff) return this.result(end, target)
    }
    return undefined
  }

  /** A provider failed: the apology, then a human, else the goodbye. Never silence. */
  async fallBack (err: unknown, provider: string): Promise<ConverseResult> {
    const code = isPhoneAgentError(err) ? err.code : 'SCRIPT_FAILED'
    this.#log.warn({ code, provider }, 'conversation falling back')
    this.#ctx.recorder.error({ code, message: err instanceof Error ? err.message : String(err), provider })
    await this.sayLast(this.text(this.#agent.apology))
    if (!this.#ctx.channel.isUp) throw new PhoneAgentError('CALL_HANGUP', 'the caller hung up during the apology')
    const handed = await this.handOff('fallback')
    if (handed !== undefined) return { ...handed, end: 'transferred' }
    return await this.goodbye('fallback')
  }

  async goodbye (end: ConverseEnd): Promise<ConverseResult> {
    await this.sayLast(this.text(this.#agent.goodbye))
    if (this.#ctx.channel.isUp) await hangup(this.#ctx)
    return this.result(end)
  }

  result (end: ConverseEnd, target?: string): ConverseResult {
    return { end, turns: this.turns, ...(target === undefined ? {} : { target }), transcript: [...this.transcript] }
  }
}
