import type { Logger } from 'pino'
import { agentSchema, textFor, type AgentConfig } from '../../agent/config.ts'
import { ConversationHistory } from '../../agent/history.ts'
import { greetingText, systemPromptParts, type CallProfile } from '../../agent/prompt.ts'
import { PhoneAgentError, abortReason, isCallEnded, isPhoneAgentError } from '../../errors.ts'
import type { LlmProvider } from '../../llm/types.ts'
import { callChild } from '../child-logger.ts'
import { createDeadline } from '../../providers/retry.ts'
import type { VerbContext } from '../context.ts'
import { turnMediaFor } from '../turn-media-for.ts'
import type { Heard, TurnMedia, Utterance } from '../turn-media.ts'
import { answer } from '../verbs/answer.ts'
import { playPath } from '../verbs/play.ts'
import type { TransferResult } from '../verbs/transfer.ts'
import type { ConverseEnd, ConverseOptions, ConverseResult } from '../verbs/converse.ts'
import { fillerFor } from './dead-air.ts'
import { profileForCall, transferForAgent } from './shared.ts'
import { OperatorKeyLane } from './operator-key.ts'
import { toolSetFor } from './tool-sets.ts'
import { Turn, type TurnSetup } from './turn.ts'
import { hangup } from '../verbs/hangup.ts'

const MAX_SPEECH_MS = 30_000
const MAX_ROUNDS = 4
/** A fixed phrase must not hold a broken call open, even if TTS or FreeSWITCH stalls. */
const PHRASE_TIMEOUT_MS = 15_000

/**
 * The conversation: greet, then listen -> transcribe -> reply (a Turn per reply) until the
 * model ends the call, a transfer takes it, the caller goes quiet, or time runs out. It owns
 * the history, the tools and the fixed phrases; each reply is a Turn thrown away at its end.
 *
 * A provider failure or missed deadline plays the pre-rendered apology and transfers to the
 * human (voicemail out of hours). The operator key (DTMF `0` by default) aborts whatever is in
 * progress and transfers the same way; FreeSWITCH's playback_terminators makes the key cut a
 * prompt in progress in files mode. The maximum duration is checked between turns and bounds
 * each listen: a reply in progress is finished rather than cut.
 */
export class Conversation {
  readonly #ctx: VerbContext
  readonly #options: ConverseOptions
  readonly #agent: AgentConfig
  readonly #llm: LlmProvider
  readonly #log: Logger
  readonly #profile: CallProfile
  readonly #language: string
  readonly #voice: string | undefined
  readonly #history: ConversationHistory
  readonly #media: TurnMedia
  readonly #startedAt = Date.now()
  readonly #operator: OperatorKeyLane
  #reported = 0
  #turns = 0
  /** What every turn needs: the same for the whole conversation, so built at the first turn. */
  #setup: TurnSetup | undefined

  constructor (ctx: VerbContext, options: ConverseOptions) {
    const services = ctx.agent
    const llm = ctx.llm
    if (llm === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'converse needs a language model (speech.llm)')
    if (ctx.stt === undefined && ctx.turnMedia === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'converse needs speech-to-text (speech.stt)')
    this.#ctx = ctx
    this.#options = options
    this.#llm = llm
    this.#agent = services?.config ?? agentSchema.parse({})
    this.#log = callChild(ctx.log, { verb: 'converse' })
    this.#profile = profileForCall(ctx, this.#agent, options)
    this.#language = options.language ?? this.#profile.language
    this.#voice = options.voice ?? ctx.voice
    this.#log.info({ known: this.#profile.contact !== undefined, vip: this.#profile.contact?.vip ?? false, open: this.#profile.open, language: this.#language }, 'conversation started')
    // The operator's instructions shared by the calls, the call's context its own (prompt.ts).
    this.#history = new ConversationHistory({ system: systemPromptParts(this.#agent, this.#profile, { instructions: options.instructions }), maxChars: this.#agent.history.maxChars })
    this.#media = turnMediaFor(ctx, { ttsFirstAudioMs: this.#agent.deadlines.ttsFirstAudioMs })
    const key = this.#agent.operatorKey !== false && this.#profile.fallbackTarget !== undefined ? this.#agent.operatorKey : undefined
    // The lane's phase follows the call and the script's signal: one signal per phase for them all.
    this.#operator = new OperatorKeyLane(ctx.channel, key, [ctx.signal, options.signal])
  }

  async run (): Promise<ConverseResult> {
    const ctx = this.#ctx
    try {
      this.#preconnect()
      await answer(ctx)
      // The operator key cuts a prompt or a recording in progress (mod_dptools on_dtmf and
      // switch_ivr_record_file both stop on a digit listed in playback_terminators).
      if (ctx.mediaMode === 'files' && this.#agent.operatorKey !== false && this.#profile.fallbackTarget !== undefined) {
        await ctx.channel.execute('set', `playback_terminators=${this.#agent.operatorKey}`, { timeoutMs: ctx.commandTimeoutMs })
      }
      return await this.#loop()
    } catch (err) {
      if (isCallEnded(err) || !ctx.channel.isUp || this.#options.signal?.aborted === true) throw err
      // A provider failed or missed its deadline: apologise, then a human takes over.
      this.#log.warn({ code: isPhoneAgentError(err) ? err.code : 'unknown' }, 'conversation falling back')
      await this.#sayLast(textFor(this.#agent.apology, this.#language))
      if (!ctx.channel.isUp) throw abortReason(ctx.signal)
      const handed = await this.#handOff('fallback')
      if (handed !== undefined) return { ...handed, end: 'transferred' }
      return await this.#goodbye('fallback')
    } finally {
      this.#operator.dispose()
      this.#report()
    }
  }

  async #loop (): Promise<ConverseResult> {
    const agent = this.#agent
    let greeting = this.#options.greeting === undefined ? greetingText(agent, this.#profile) : this.#options.greeting
    let reprompts = 0
    for (;;) {
      try {
        if (greeting !== false) {
          const text = greeting
          greeting = false
          await this.#sayInPhase(text)
        }
        const remaining = agent.maxCallSeconds * 1000 - (Date.now() - this.#startedAt)
        if (remaining <= 0) return await this.#goodbye('max-duration')
        if (this.#options.maxTurns !== undefined && this.#turns >= this.#options.maxTurns) return await this.#goodbye('max-turns')
        // The turn exists from the start of listening: its dead-air clock runs from the end of
        // the caller's speech, while their words are recognised.
        const number = this.#turns + 1
        const link = this.#operator.work()
        const turn = new Turn(this.#turnSetup(), { number, log: callChild(this.#log, { turn: number }) }, link)
        try {
          const heard = await this.#listen(remaining, turn)
          if (heard.kind === 'speech') {
            reprompts = 0
            const end = await this.#reply(heard, turn)
            if (end !== undefined) return end
            continue
          }
        } finally {
          turn.dispose()
          this.#operator.release(link)
        }
        if (++reprompts > agent.reprompts.max) return await this.#goodbye('no-input')
        await this.#sayInPhase(textFor(agent.reprompts.text, this.#language))
      } catch (err) {
        if (!this.#operator.pressed || !this.#ctx.channel.isUp || this.#options.signal?.aborted === true) throw err
        // The operator key: whatever was running is abandoned; a new phase starts afterwards.
        this.#log.info({ turn: this.#turns }, 'operator key pressed')
        this.#ctx.keypad.flush()
        this.#operator.next()
        const handed = await this.#handOff('transferred')
        if (handed !== undefined) return handed
        // Nobody took the call: the caller hears so at once, and the conversation goes on.
        await this.#sayInPhase(textFor(agent.transferFailed, this.#language))
      }
    }
  }

  async #listen (remaining: number, turn: Turn): Promise<Heard> {
    const { signal, onSpeechEnd, onSpeechResumed, onPreempt, onPreemptDropped } = turn.hearing
    // Connections closed after a quiet spell (or a long greeting) open again while the caller speaks.
    this.#preconnect()
    try {
      return await this.#media.listen({
        noInputMs: Math.min(this.#agent.deadlines.noInputMs, remaining),
        maxSpeechMs: Math.min(MAX_SPEECH_MS, remaining),
        language: this.#language,
        hints: this.#options.hints,
        onSpeechEnd,
        onSpeechResumed,
        onPreempt,
        onPreemptDropped,
      }, signal)
    } catch (err) {
      const stt = this.#ctx.stt?.name ?? 'stt'
      if (turn.expired) {
        // The caller waited past the budget while their words were being recognised.
        this.#log.warn({ code: 'PROVIDER_TIMEOUT', stage: 'deadline', waitingFor: stt }, 'turn failed')
        this.#ctx.recorder.error({ code: 'PROVIDER_TIMEOUT', message: `${(err as Error).message}, waiting for speech recognition`, provider: 'deadline' })
      } else if (!isCallEnded(err) && !signal.aborted) {
        this.#ctx.recorder.error({ code: isPhoneAgentError(err) ? err.code : 'SCRIPT_FAILED', message: (err as Error).message, provider: stt })
      }
      throw err
    }
  }

  /**
   * The providers' connections, opened before the turn needs them: the pool closes one 30 s after
   * its last request, and the first reply after a quiet spell paid a TCP and TLS handshake for
   * each provider on its critical path. Nothing is sent, so nothing is billed; a no-op while the
   * connections are open.
   */
  #preconnect (): void {
    this.#ctx.stt?.preconnect?.()
    this.#llm.preconnect?.()
    this.#ctx.speaker.preconnect?.()
  }

  /** One caller utterance and the reply to it; a result when the conversation is over. */
  async #reply (heard: Utterance, turn: Turn): Promise<ConverseResult | undefined> {
    const ctx = this.#ctx
    this.#turns++
    this.#history.addUser(heard.text, heard.endedAt)
    this.#report()
    // Recognitions dropped because the caller went on after a pause were billed too.
    ctx.recorder.usage({ sttSeconds: (heard.audioMs + (heard.discardedAudioMs ?? 0)) / 1000 })
    let end
    try {
      end = await turn.run(heard)
    } finally {
      this.#report()
    }
    if (end.kind === 'transferred') return { end: 'transferred', turns: this.#turns, target: end.target, transcript: this.#history.transcript() }
    if (end.kind === 'end') {
      if (!end.spoke) await this.#sayLast(textFor(this.#agent.goodbye, this.#language))
      if (ctx.channel.isUp) await hangup(ctx)
      return { end: 'ended', turns: this.#turns, transcript: this.#history.transcript() }
    }
    return undefined
  }

  #turnSetup (): TurnSetup {
    this.#setup ??= this.#buildTurnSetup()
    return this.#setup
  }

  #buildTurnSetup (): TurnSetup {
    const services = this.#ctx.agent
    // Shared with the calls that offer the same tools (tool-sets.ts).
    const { context: toolContext, tools } = toolSetFor({
      targets: this.#profile.offeredTargets,
      defaultCountry: services?.defaultCountry ?? 'IT',
      enabled: this.#options.tools ?? this.#agent.tools,
      ...(this.#options.targetDescriptions ? { targetDescriptions: this.#options.targetDescriptions } : {}),
    })
    // Methods on `conversation`, not arrow functions: under tsx each named arrow made per call
    // gets a `name` of its own (esbuild's keepNames), a 256-byte property dictionary.
    const conversation = this
    return {
      ctx: this.#ctx,
      media: this.#media,
      llm: this.#llm,
      history: this.#history,
      toolContext,
      tools,
      lookupContact (n) { return services?.lookupContact(n) },
      language: this.#language,
      voice: this.#voice,
      turnMs: this.#agent.deadlines.turnMs,
      deadAirMs: this.#agent.deadlines.deadAirMs,
      maxFillers: this.#agent.fillers.max,
      fill: fillerFor(this.#ctx, this.#language, this.#voice),
      llmFirstTokenMs: this.#agent.deadlines.llmFirstTokenMs,
      sentenceMaxChars: this.#agent.sentences.maxChars,
      maxRounds: MAX_ROUNDS,
      async transfer (target) { return await conversation.#transfer(target) },
      async sayInsteadOfSilence (sig) { await conversation.#say(textFor(conversation.#agent.cannotHelp, conversation.#language), sig) },
    }
  }

  async #transfer (target: string): Promise<TransferResult> {
    return await transferForAgent(this.#ctx, this.#agent, this.#operator, this.#log, target)
  }

  /** Fallback and operator: to the human (voicemail out of hours), then the other if that fails. */
  async #handOff (end: ConverseEnd): Promise<ConverseResult | undefined> {
    const targets = [...new Set([this.#profile.fallbackTarget, this.#agent.transfers.afterHours].filter((t): t is string => t !== undefined))]
    for (const target of targets) {
      const result = await this.#transfer(target)
      if (result.connected || this.#ctx.status.handedOff) return { end, turns: this.#turns, target, transcript: this.#history.transcript() }
    }
    return undefined
  }

  /** A fixed phrase: pre-rendered when possible, heard in the transcript. */
  async #say (text: string, signal: AbortSignal): Promise<void> {
    const turn = this.#history.beginAssistant()
    const id = turn.say(text)
    try {
      const path = this.#ctx.agent?.canned.lookup(text, this.#language, this.#voice)
      if (path !== undefined) await playPath(this.#ctx, path, { signal })
      else await this.#media.speak(once(text), { language: this.#language, voice: this.#voice }, signal)
      turn.spoken(id)
      turn.complete()
    } catch (err) {
      turn.interrupt()
      throw err
    } finally {
      this.#report()
    }
  }

  /** Phrases said on the way out: bounded, and a failure there ends the call all the same. */
  async #sayLast (text: string): Promise<void> {
    if (!this.#ctx.channel.isUp) return
    const deadline = createDeadline(this.#ctx.signal, PHRASE_TIMEOUT_MS)
    try {
      await this.#say(text, deadline.signal)
    } catch (err) {
      if (!isCallEnded(err)) this.#log.warn({ code: isPhoneAgentError(err) ? err.code : 'unknown' }, 'could not say the closing phrase')
    } finally {
      deadline.dispose()
    }
  }

  async #goodbye (end: ConverseEnd): Promise<ConverseResult> {
    await this.#sayLast(textFor(this.#agent.goodbye, this.#language))
    if (this.#ctx.channel.isUp) await hangup(this.#ctx)
    return { end, turns: this.#turns, transcript: this.#history.transcript() }
  }

  /**
   * A phrase of the phase (the greeting, a reprompt): on a link of its own from the operator lane
   * (the call, the script's signal and the key as one), let go of once said, as a turn's is: no
   * signal for the phase lives through the call (operator-key.ts).
   */
  async #sayInPhase (text: string): Promise<void> {
    const link = this.#operator.work()
    try {
      await this.#say(text, link.signal)
    } finally {
      this.#operator.release(link)
    }
  }

  #report (): void {
    const entries = this.#history.entriesSince(this.#reported)
    for (const e of entries) {
      if (e.role === 'user') this.#ctx.recorder.turn({ role: 'caller', text: e.text, at: e.at })
      else if (e.role === 'assistant' && (e.text !== '' || e.interrupted)) this.#ctx.recorder.turn({ role: 'agent', text: e.text, at: e.at, interrupted: e.interrupted })
    }
    this.#reported += entries.length
  }
}

async function * once (text: string): AsyncGenerator<string> {
  yield text
}
