import type { Logger } from 'pino'
import type { Contact } from '../agent/contacts.ts'
import type { ConversationHistory } from '../agent/history.ts'
import { SentenceSplitter } from '../agent/sentences.ts'
import { validateToolCall, type ToolContext } from '../agent/tools.ts'
import { PhoneAgentError, isCallEnded, isPhoneAgentError } from '../errors.ts'
import type { LlmProvider, ToolDefinition } from '../llm/types.ts'
import type { LatencyInput } from '../records/types.ts'
import type { VerbContext } from './context.ts'
import type { TurnMedia } from './turn-media.ts'
import type { StreamSpokenResult } from './turn-media-stream.ts'
import { runTool, type TerminalAction } from './turn-tools.ts'
import type { TransferResult } from './verbs/transfer.ts'

/** Everything a turn needs; built once per conversation. */
export interface TurnSetup {
  readonly ctx: VerbContext
  readonly media: TurnMedia
  readonly llm: LlmProvider
  readonly history: ConversationHistory
  readonly toolContext: ToolContext
  readonly tools: readonly ToolDefinition[]
  readonly lookupContact: (number: string) => Contact | undefined
  readonly language: string
  readonly voice: string | undefined
  /** End of the caller's speech to our first audio, and the longest silence between sentences. */
  readonly turnMs: number
  readonly llmFirstTokenMs: number
  readonly sentenceMaxChars: number
  /** LLM requests per turn (each tool round is one). */
  readonly maxRounds: number
  /** Runs a transfer the model asked for. */
  readonly transfer: (target: string) => Promise<TransferResult>
  /**
   * Says a fixed line when a reply would otherwise end in silence (every tool call refused, the
   * rounds used up with nothing said): the caller must never be left wondering.
   */
  readonly sayInsteadOfSilence?: ((signal: AbortSignal) => Promise<void>) | undefined
}

export interface TurnInput {
  /** The caller's turn number, from 1. */
  readonly number: number
  readonly speechEndAt: number
  readonly sttFinalAt: number
  readonly log: Logger
}

export type TurnEnd =
  | { readonly kind: 'continue' }
  | { readonly kind: 'transferred', readonly target: string }
  /** `spoke`: the model said something (its goodbye) in the same round as end_call. */
  | { readonly kind: 'end', readonly reason: string, readonly spoke: boolean }

const MODEL_TEXT_IN_LOGS = 64
/** Rough size of a token, for estimating the usage of a stream cut before it reported its own. */
const CHARS_PER_TOKEN = 4
/** Speaking rate used to cut an interrupted sentence where the caller came in (~15 characters a second). */
const SPOKEN_CHARS_PER_MS = 0.015

/**
 * One reply: LLM rounds (text and tool calls) streamed sentence by sentence into the media's
 * speak queue, tools validated and run, then any transfer or hang-up the model asked for.
 *
 * The turn owns an AbortController and is thrown away when it ends: a failure, a missed
 * deadline, or the caller's signal aborts everything it started (LLM request, TTS renders,
 * playback waits). The history is committed with what the caller actually heard.
 *
 * A watchdog enforces "never dead air longer than the deadline": it runs whenever nothing is
 * playing (from the end of the caller's speech, and between sentences) and aborts the turn with
 * PROVIDER_TIMEOUT when it fires; the conversation then falls back.
 */
export async function runTurn (setup: TurnSetup, input: TurnInput, signal: AbortSignal): Promise<TurnEnd> {
  const { ctx, media, llm, history, log } = { ...setup, log: input.log }
  const controller = new AbortController()
  const turnSignal = AbortSignal.any([signal, controller.signal])
  const marks: { -readonly [K in keyof LatencyInput]: LatencyInput[K] } = {
    turn: input.number, speechEndAt: input.speechEndAt, sttFinalAt: input.sttFinalAt,
  }
  const usage = { input: 0, output: 0, tts: 0 }
  let watchdog: NodeJS.Timeout | undefined
  let deadlineMissed = false
  const arm = (ms: number): void => {
    clearTimeout(watchdog)
    watchdog = setTimeout(() => {
      deadlineMissed = true
      controller.abort(new PhoneAgentError('PROVIDER_TIMEOUT', `no reply audio within ${setup.turnMs} ms`))
    }, Math.max(0, ms))
  }
  const disarm = (): void => { clearTimeout(watchdog); watchdog = undefined }

  const assistant = history.beginAssistant()
  const ids: number[] = []
  const sentences: string[] = []
  let rounds = 0
  const usedIds = new Set<string>()
  let llmFailed = false
  let pending: TerminalAction | undefined
  /** Whether the round that asked to end the call said anything (a goodbye) before it. */
  let lastRoundSpoke = false

  // Usage arrives at the end of a stream; a round cut short (barge-in, deadline) or a server that
  // reports none is estimated from what was sent and received (~4 characters a token). Settled
  // by whichever comes first, the round's end or the turn's (a barge-in leaves the generator
  // suspended until its stream notices the abort, after the turn has been recorded).
  let round = { open: false, usage: false, chars: 0 }
  const settleRound = (): void => {
    if (!round.open) return
    round.open = false
    if (round.usage) return
    usage.input += Math.ceil(JSON.stringify(history.messages()).length / CHARS_PER_TOKEN)
    usage.output += Math.ceil(round.chars / CHARS_PER_TOKEN)
  }

  async function * reply (): AsyncGenerator<string> {
    while (rounds < setup.maxRounds) {
      rounds++
      lastRoundSpoke = false
      const splitter = new SentenceSplitter({ language: setup.language, maxChars: setup.sentenceMaxChars })
      const calls: Array<{ id: string, name: string, arguments: string }> = []
      const firstToken = new AbortController()
      const firstTimer = setTimeout(() => {
        firstToken.abort(new PhoneAgentError('PROVIDER_TIMEOUT', `no first token within ${setup.llmFirstTokenMs} ms`))
      }, setup.llmFirstTokenMs)
      const llmSignal = AbortSignal.any([turnSignal, firstToken.signal])
      round = { open: true, usage: false, chars: 0 }
      try {
        for await (const delta of llm.stream(history.messages(), { signal: llmSignal, tools: setup.tools })) {
          clearTimeout(firstTimer)
          marks.llmFirstTokenAt ??= Date.now()
          if (delta.type === 'text') {
            round.chars += delta.text.length
            for (const s of splitter.push(delta.text)) yield emit(s)
          } else if (delta.type === 'tool_call') {
            // Ids must be unique within the conversation; some servers restart them per response.
            const id = usedIds.has(delta.id) ? `${delta.id}_${usedIds.size}` : delta.id
            usedIds.add(id)
            calls.push({ id, name: delta.name, arguments: delta.arguments })
          } else {
            round.usage = true
            usage.input += delta.inputTokens
            usage.output += delta.outputTokens
          }
        }
      } catch (err) {
        if (!turnSignal.aborted) llmFailed = true
        if (firstToken.signal.aborted && !turnSignal.aborted) throw firstToken.signal.reason as Error
        throw err
      } finally {
        clearTimeout(firstTimer)
        settleRound()
      }
      for (const s of splitter.flush()) yield emit(s)
      if (calls.length === 0) return
      for (const call of calls) {
        assistant.toolCall(call)
        if (pending !== undefined) {
          assistant.toolResult(call.id, JSON.stringify({ error: 'not run: the call is already being ended or transferred' }))
          continue
        }
        const checked = validateToolCall(call.name, call.arguments, setup.toolContext)
        if (!checked.ok) {
          log.warn({ tool: call.name.slice(0, MODEL_TEXT_IN_LOGS), code: checked.code }, 'tool call refused')
          assistant.toolResult(call.id, JSON.stringify({ error: checked.error }))
          continue
        }
        const outcome = runTool(checked.call, call.id, { ctx, log, lookupContact: setup.lookupContact })
        assistant.toolResult(call.id, outcome.result)
        if (outcome.action !== undefined) pending = outcome.action
      }
      // A transfer or hang-up waits for what was said before it; no further round.
      if (pending !== undefined) return
    }
  }

  function emit (sentence: string): string {
    ids.push(assistant.say(sentence))
    sentences.push(sentence)
    lastRoundSpoke = true
    marks.firstSentenceAt ??= Date.now()
    return sentence
  }

  const speakOptions = {
    language: setup.language,
    voice: setup.voice,
    onFirstAudio: () => { marks.ttsAudioAt ??= Date.now() },
    onSynthesized: (characters: number) => { usage.tts += characters },
    onPlayStart: () => {
      disarm()
      marks.firstFrameAt ??= Date.now()
    },
    onPlayed: (index: number) => {
      const id = ids[index]
      if (id !== undefined) assistant.spoken(id)
      arm(setup.turnMs)
    },
  }

  try {
    arm(setup.turnMs - (Date.now() - input.speechEndAt))
    for (;;) {
      const spoken: StreamSpokenResult = await media.speak(reply(), speakOptions, turnSignal)
      disarm()
      if (spoken.bargeIn !== undefined) {
        // The caller spoke over the reply: stop thinking and synthesising at once, keep what
        // was heard (the interrupted sentence cut where the caller came in), and listen.
        controller.abort(new PhoneAgentError('CALL_ABORTED', 'the caller barged in'))
        const playing = sentences[spoken.bargeIn.sentence] ?? ''
        assistant.interrupt(playing.slice(0, Math.round(spoken.bargeIn.heardMs * SPOKEN_CHARS_PER_MS)))
        log.info({ sentence: spoken.bargeIn.sentence, heardMs: spoken.bargeIn.heardMs }, 'reply interrupted by the caller')
        return { kind: 'continue' }
      }
      const action = pending
      if (action?.kind !== 'transfer') break
      const result = await setup.transfer(action.target)
      if (result.connected || ctx.state.handedOff) {
        assistant.toolResult(action.toolCallId, JSON.stringify({ ok: true, connected: true }))
        assistant.complete()
        return { kind: 'transferred', target: action.target }
      }
      // Nobody took the call: the model hears why and carries on (offer a message).
      log.info({ target: action.target, disposition: result.disposition }, 'transfer did not connect')
      assistant.toolResult(action.toolCallId, JSON.stringify({ ok: false, error: `the transfer did not connect (${result.disposition}); offer to take a message` }))
      pending = undefined
      if (rounds >= setup.maxRounds) break
      arm(setup.turnMs)
    }
    assistant.complete()
    if (pending?.kind === 'end') return { kind: 'end', reason: pending.reason, spoke: lastRoundSpoke }
    if (sentences.length === 0 && setup.sayInsteadOfSilence !== undefined) {
      log.info({ rounds }, 'reply ended with nothing said; saying the fixed line')
      await setup.sayInsteadOfSilence(turnSignal)
    }
    return { kind: 'continue' }
  } catch (err) {
    // Committed with what was heard, marked interrupted.
    assistant.interrupt()
    if (!isCallEnded(err) && !(signal.aborted && !deadlineMissed)) {
      const code = isPhoneAgentError(err) ? err.code : 'SCRIPT_FAILED'
      const stage = deadlineMissed ? 'deadline' : llmFailed ? 'llm' : 'tts'
      log.warn({ code, stage, err }, 'turn failed')
      ctx.recorder.error({ code, message: err instanceof Error ? err.message : String(err), provider: stage === 'llm' ? llm.name : stage })
    }
    throw err
  } finally {
    disarm()
    controller.abort(new PhoneAgentError('CALL_ABORTED', 'turn over'))
    ctx.recorder.latency(marks)
    settleRound()
    if (usage.input + usage.output + usage.tts > 0) {
      ctx.recorder.usage({ llmInputTokens: usage.input, llmOutputTokens: usage.output, ttsCharacters: usage.tts })
    }
  }
}
