import { agentSchema, textFor, type AgentConfig } from '../../agent/config.ts'
import { ConversationHistory, type TranscriptEntry } from '../../agent/history.ts'
import { callProfile, greetingText, systemPrompt, type CallProfile } from '../../agent/prompt.ts'
import { toolDefinitions, type ToolName } from '../../agent/tools.ts'
import { PhoneAgentError, abortReason, isCallEnded, isPhoneAgentError } from '../../errors.ts'
import { toE164 } from '../../numbers/e164.ts'
import { createDeadline } from '../../providers/retry.ts'
import type { VerbContext } from '../context.ts'
import { turnMediaFor } from '../turn-media-for.ts'
import type { TurnMedia } from '../turn-media.ts'
import { runTurn, type TurnSetup } from '../turn.ts'
import { answer } from './answer.ts'
import { playPath } from './play.ts'
import { transfer, type TransferResult } from './transfer.ts'

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

const MAX_SPEECH_MS = 30_000
const MAX_ROUNDS = 4
/** A fixed phrase must not hold a broken call open, even if TTS or FreeSWITCH stalls. */
const PHRASE_TIMEOUT_MS = 15_000

/**
 * The conversation: greet, then listen -> transcribe -> reply sentence by sentence, with tools,
 * until the model ends the call, a transfer takes it, the caller goes quiet, or time runs out.
 *
 * A provider failure or missed deadline plays the pre-rendered apology and transfers to the
 * human (voicemail out of hours). The operator key (DTMF `0` by default) aborts whatever is in
 * progress and transfers the same way; FreeSWITCH's playback_terminators makes the key cut the
 * prompt or recording in progress, so the caller is not left listening to the end of it.
 * The maximum duration is checked between turns and bounds each listen: a reply in progress is
 * finished rather than cut.
 */
export async function converse (ctx: VerbContext, options: ConverseOptions = {}): Promise<ConverseResult> {
  const services = ctx.agent
  const agent: AgentConfig = services?.config ?? agentSchema.parse({})
  const llm = ctx.llm
  if (llm === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'converse needs a language model (speech.llm)')
  if (ctx.stt === undefined && ctx.turnMedia === undefined) throw new PhoneAgentError('CONFIG_INVALID', 'converse needs speech-to-text (speech.stt)')
  const log = ctx.log.child({ verb: 'converse' })
  const startedAt = Date.now()
  const defaultCountry = services?.defaultCountry ?? 'IT'
  const callerNumber = toE164(ctx.channel.data.callerNumber, defaultCountry)
  const contact = services?.lookupContact(callerNumber)
  if (contact?.name !== undefined) ctx.recorder.contact(contact.name)
  const profile: CallProfile = callProfile({
    agent, contact, callerNumber,
    language: options.language ?? ctx.language,
    hours: services?.hours,
    now: services?.now() ?? new Date(),
    transferNames: services?.transferNames ?? Object.keys(ctx.transfers),
    offered: options.targets,
  })
  const language = options.language ?? profile.language
  const voice = options.voice ?? ctx.voice
  log.info({ known: contact !== undefined, vip: contact?.vip ?? false, open: profile.open, language }, 'conversation started')
  const toolContext = {
    targets: profile.offeredTargets,
    defaultCountry,
    enabled: options.tools ?? agent.tools,
    ...(options.targetDescriptions ? { targetDescriptions: options.targetDescriptions } : {}),
  }
  const history = new ConversationHistory({ system: systemPrompt(agent, profile, { instructions: options.instructions }), maxChars: agent.history.maxChars })
  const media: TurnMedia = turnMediaFor(ctx, { ttsFirstAudioMs: agent.deadlines.ttsFirstAudioMs })
  const maxCallMs = agent.maxCallSeconds * 1000
  let reported = 0
  const report = (): void => {
    const entries = history.transcript()
    for (const e of entries.slice(reported)) {
      if (e.role === 'user') ctx.recorder.turn({ role: 'caller', text: e.text, at: Date.parse(e.at) })
      else if (e.role === 'assistant' && (e.text !== '' || e.interrupted)) ctx.recorder.turn({ role: 'agent', text: e.text, at: Date.parse(e.at), interrupted: e.interrupted })
    }
    reported = entries.length
  }

  /** Set while a transfer runs: the operator key then stops a target that is still ringing. */
  let ringing: AbortController | undefined
  const transferTo = async (target: string): Promise<TransferResult> => {
    ringing = new AbortController()
    try {
      const result = await transfer(ctx, target, { signal: ringing.signal })
      if (result.connected && target === agent.transfers.afterHours && target !== agent.transfers.human) ctx.state.outcome = 'voicemail'
      return result
    } catch (err) {
      if (isCallEnded(err) || !ctx.channel.isUp) throw err
      log.warn({ target, code: isPhoneAgentError(err) ? err.code : 'unknown' }, 'transfer failed')
      return { connected: false, disposition: isPhoneAgentError(err) ? err.code : 'FAILED' }
    } finally {
      ringing = undefined
    }
  }

  // The two lanes: the operator key acts at once on whatever phase is running.
  const operatorKey = agent.operatorKey !== false && profile.fallbackTarget !== undefined ? agent.operatorKey : undefined
  let phase = new AbortController()
  const unsubscribe = operatorKey === undefined
    ? () => {}
    : ctx.channel.onDtmf((digit) => {
      if (digit !== operatorKey) return
      // Pressed again while the target rings: the caller stops waiting, the conversation goes on.
      if (ringing !== undefined) { ringing.abort(new PhoneAgentError('CALL_ABORTED', 'the caller stopped the ringing transfer')); return }
      if (!phase.signal.aborted) phase.abort(new PhoneAgentError('CALL_ABORTED', 'the caller pressed the operator key'))
    })
  const phaseSignal = (): AbortSignal => AbortSignal.any([ctx.signal, phase.signal, ...(options.signal ? [options.signal] : [])])

  /** A fixed phrase: pre-rendered when possible, heard in the transcript. */
  const say = async (text: string, signal: AbortSignal): Promise<void> => {
    const turn = history.beginAssistant()
    const id = turn.say(text)
    try {
      const path = services?.canned.lookup(text, language, voice)
      if (path !== undefined) await playPath(ctx, path, { signal })
      else await media.speak(once(text), { language, voice }, signal)
      turn.spoken(id)
      turn.complete()
    } catch (err) {
      turn.interrupt()
      throw err
    } finally {
      report()
    }
  }
  /** Phrases said on the way out: bounded, and a failure there ends the call all the same. */
  const sayLast = async (text: string): Promise<void> => {
    if (!ctx.channel.isUp) return
    const deadline = createDeadline(ctx.signal, PHRASE_TIMEOUT_MS)
    try {
      await say(text, deadline.signal)
    } catch (err) {
      if (!isCallEnded(err)) log.warn({ code: isPhoneAgentError(err) ? err.code : 'unknown' }, 'could not say the closing phrase')
    } finally {
      deadline.dispose()
    }
  }
  const goodbye = async (end: ConverseEnd, turns: number): Promise<ConverseResult> => {
    await sayLast(textFor(agent.goodbye, language))
    if (ctx.channel.isUp) await ctx.channel.hangup('NORMAL_CLEARING')
    return { end, turns, transcript: history.transcript() }
  }
  /** Fallback and operator: to the human (voicemail out of hours), then the other if that fails. */
  const handOff = async (end: ConverseEnd, turns: number): Promise<ConverseResult | undefined> => {
    const targets = [...new Set([profile.fallbackTarget, agent.transfers.afterHours].filter((t): t is string => t !== undefined))]
    for (const target of targets) {
      const result = await transferTo(target)
      if (result.connected || ctx.state.handedOff) return { end, turns, target, transcript: history.transcript() }
    }
    return undefined
  }

  const setup: TurnSetup = {
    ctx, media, llm, history, toolContext,
    tools: toolDefinitions(toolContext),
    lookupContact: (n) => services?.lookupContact(n),
    language, voice,
    turnMs: agent.deadlines.turnMs,
    llmFirstTokenMs: agent.deadlines.llmFirstTokenMs,
    sentenceMaxChars: agent.sentences.maxChars,
    maxRounds: MAX_ROUNDS,
    transfer: transferTo,
    sayInsteadOfSilence: async (signal) => { await say(textFor(agent.cannotHelp, language), signal) },
  }

  let turns = 0
  let reprompts = 0
  try {
    await answer(ctx)
    // The operator key cuts a prompt or a recording in progress (mod_dptools on_dtmf and
    // switch_ivr_record_file both stop on a digit listed in playback_terminators).
    if (operatorKey !== undefined) await ctx.channel.execute('set', `playback_terminators=${operatorKey}`, { timeoutMs: ctx.commandTimeoutMs })
    let greeting = options.greeting === undefined ? greetingText(agent, profile) : options.greeting
    for (;;) {
      const signal = phaseSignal()
      try {
        if (greeting !== false) {
          const text = greeting
          greeting = false
          await say(text, signal)
        }
        const remaining = maxCallMs - (Date.now() - startedAt)
        if (remaining <= 0) return await goodbye('max-duration', turns)
        if (options.maxTurns !== undefined && turns >= options.maxTurns) return await goodbye('max-turns', turns)
        let heard
        try {
          heard = await media.listen({
            noInputMs: Math.min(agent.deadlines.noInputMs, remaining),
            maxSpeechMs: Math.min(MAX_SPEECH_MS, remaining),
            language,
            hints: options.hints,
          }, signal)
        } catch (err) {
          if (!isCallEnded(err) && !signal.aborted) {
            ctx.recorder.error({ code: isPhoneAgentError(err) ? err.code : 'SCRIPT_FAILED', message: (err as Error).message, provider: ctx.stt?.name ?? 'stt' })
          }
          throw err
        }
        if (heard.kind !== 'speech') {
          if (++reprompts > agent.reprompts.max) return await goodbye('no-input', turns)
          await say(textFor(agent.reprompts.text, language), signal)
          continue
        }
        reprompts = 0
        turns++
        history.addUser(heard.text, heard.endedAt)
        report()
        ctx.recorder.usage({ sttSeconds: heard.audioMs / 1000 })
        const turnLog = log.child({ turn: turns })
        let end
        try {
          end = await runTurn(setup, { number: turns, speechEndAt: heard.endedAt, sttFinalAt: heard.transcribedAt, log: turnLog }, signal)
        } finally {
          report()
        }
        if (end.kind === 'transferred') return { end: 'transferred', turns, target: end.target, transcript: history.transcript() }
        if (end.kind === 'end') {
          if (!end.spoke) await sayLast(textFor(agent.goodbye, language))
          if (ctx.channel.isUp) await ctx.channel.hangup('NORMAL_CLEARING')
          return { end: 'ended', turns, transcript: history.transcript() }
        }
      } catch (err) {
        if (!phase.signal.aborted || !ctx.channel.isUp || options.signal?.aborted === true) throw err
        // The operator key: whatever was running is abandoned; a new phase starts afterwards.
        log.info({ turn: turns }, 'operator key pressed')
        ctx.state.dtmfBuffer.length = 0
        phase = new AbortController()
        const handed = await handOff('transferred', turns)
        if (handed !== undefined) return handed
        // Nobody took the call: the caller hears so at once, and the conversation goes on.
        await say(textFor(agent.transferFailed, language), phaseSignal())
      }
    }
  } catch (err) {
    if (isCallEnded(err) || !ctx.channel.isUp || options.signal?.aborted === true) throw err
    // A provider failed or missed its deadline: apologise, then a human takes over.
    log.warn({ code: isPhoneAgentError(err) ? err.code : 'unknown' }, 'conversation falling back')
    await sayLast(textFor(agent.apology, language))
    if (!ctx.channel.isUp) throw abortReason(ctx.signal)
    const handed = await handOff('fallback', turns)
    if (handed !== undefined) return { ...handed, end: 'transferred' }
    return await goodbye('fallback', turns)
  } finally {
    unsubscribe()
    report()
  }
}

async function * once (text: string): AsyncGenerator<string> {
  yield text
}
