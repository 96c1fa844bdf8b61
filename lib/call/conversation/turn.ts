import type { Logger } from 'pino'
import type { Contact } from '../../agent/contacts.ts'
import type { ConversationHistory } from '../../agent/history.ts'
import { SentenceSplitter } from '../../agent/sentences.ts'
import type { ToolContext } from '../../agent/tools.ts'
import { PhoneAgentError, isCallEnded, isPhoneAgentError, routineAbort } from '../../errors.ts'
import type { LlmDelta, LlmProvider, ToolDefinition } from '../../llm/types.ts'
import { AbortLink } from '../../providers/abort-link.ts'
import type { LatencyInput } from '../../records/types.ts'
import type { VerbContext } from '../context.ts'
import type { SpeakOptions, SpokenResult, TurnMedia, Utterance } from '../turn-media.ts'
import { runToolCalls, type TerminalAction } from '../turn-tools.ts'
import type { TransferResult } from '../verbs/transfer.ts'
import { DeadAir } from './dead-air.ts'
import { EarlySentence } from './early-sentence.ts'
import { cutAt } from './heard-text.ts'
import { Speculation } from './speculation.ts'

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
  /** End of the caller's speech to the answer's first audio, fillers or not. */
  readonly turnMs: number
  /** Longest silence the caller may hear while owed audio (dead-air budget). */
  readonly deadAirMs: number
  /** Fillers at most per turn, before the answer has started. */
  readonly maxFillers: number
  /** Plays the pre-rendered filler ("one moment"); resolves once heard. */
  readonly fill?: ((signal: AbortSignal) => Promise<void>) | undefined
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
  readonly log: Logger
}

/** What a turn gives the listen that precedes it: the dead-air clock starts at the end of speech. */
export interface TurnHearing {
  readonly signal: AbortSignal
  readonly onSpeechEnd: (at: number) => void
  readonly onSpeechResumed: () => void
  /** Finished words at a short pause: the reply may start, unheard (a preemptive reply). */
  readonly onPreempt: (text: string) => void
  readonly onPreemptDropped: () => void
}

export type TurnEnd =
  | { readonly kind: 'continue' }
  | { readonly kind: 'transferred', readonly target: string }
  /** `spoke`: the model said something (its goodbye) in the same round as end_call. */
  | { readonly kind: 'end', readonly reason: string, readonly spoke: boolean }

/** Rough size of a token, for estimating the usage of a stream cut before it reported its own. */
const CHARS_PER_TOKEN = 4

/**
 * One caller turn and the reply to it, thrown away when it ends: built when listening starts,
 * its dead-air clock runs from the caller's end of speech, then LLM rounds (text and tool calls)
 * stream sentence by sentence into the media's speak queue, tools are validated and run, then
 * any transfer or hang-up the model asked for. It owns its controller, timers, usage and result:
 * a failure, a missed deadline, a barge-in or the caller's signal aborts everything it started,
 * each with its own code; the history is committed with what the caller actually heard.
 * The dead-air clock (dead-air.ts) keeps every silence the caller hears while owed audio under
 * `deadAirMs` (a filler before the answer starts, else PROVIDER_TIMEOUT and the conversation
 * falls back); `turnMs` bounds the wait for the answer's first audio.
 */
export class Turn {
  readonly #setup: TurnSetup
  readonly #input: TurnInput
  readonly #log: Logger
  /** From the operator lane: follows the call and the script, the key aborts it (operator-key.ts); so does the turn. */
  readonly #controller: AbortLink
  /** The turn aborted its link itself (else the key, the call or the script did). */
  #selfAborted = false
  readonly #signal: AbortSignal
  readonly #deadAir: DeadAir
  #marks!: { -readonly [K in keyof LatencyInput]: LatencyInput[K] }
  readonly #usage = { input: 0, output: 0, tts: 0 }
  #assistant!: ReturnType<ConversationHistory['beginAssistant']>
  readonly #ids: number[] = []
  readonly #sentences: string[] = []
  /** Made with the first tool call: most turns call none (an empty Set is ~150 B of heap). */
  #usedIds: Set<string> | undefined
  /** The caller's end of speech was reported (the clock started). */
  #speechEnded = false
  #deadlineMissed = false
  #rounds = 0
  /** Index of the current round's first sentence, and of the last sentence that began playing. */
  #roundStart = 0
  #lastPlayStart = -1
  #llmFailed = false
  #pending: TerminalAction | undefined
  /** Whether the round that asked to end the call said anything (a goodbye) before it. */
  #lastRoundSpoke = false
  /**
   * Usage arrives at the end of a stream; a round cut short (barge-in, deadline) or a server
   * that reports none is estimated from what was sent and received (~4 characters a token).
   * Settled by whichever comes first, the round's end or the turn's (a barge-in leaves the
   * generator suspended until its stream notices the abort, after the turn has been recorded).
   */
  #round = { open: false, usage: false, chars: 0 }
  /** A preemptive reply started at a short pause, held until the turn adopts or drops it. */
  #speculation: Speculation | undefined

  constructor (setup: TurnSetup, input: TurnInput, link: AbortLink) {
    this.#setup = setup
    this.#input = input
    this.#log = input.log
    this.#controller = link
    this.#signal = this.#controller.signal
    // Methods on `turn`, not arrow functions: under tsx each named arrow made per turn gets a
    // `name` of its own (esbuild's keepNames), a 256-byte property dictionary.
    const turn = this
    this.#deadAir = new DeadAir({
      budgetMs: setup.deadAirMs,
      maxFillers: setup.maxFillers,
      fill: setup.fill,
      // Never once the answer has started: a filler belongs to a wait, not inside a reply.
      mayFill () { return turn.#lastPlayStart < turn.#roundStart },
      expire (reason) {
        turn.#deadlineMissed = true
        turn.#abort(reason)
      },
      signal: this.#signal,
      log: this.#log,
    })
  }

  /** Whether the caller waited too long (the turn ended on its dead-air clock or deadline). */
  get expired (): boolean { return this.#deadAir.expired }

  /** For the listen before the reply: the clock starts at the end of speech, stops if they go on. */
  get hearing (): TurnHearing {
    const turn = this // methods, as in the constructor
    return {
      signal: this.#signal,
      onSpeechEnd (at) { turn.#heardEnd(at) },
      onSpeechResumed () {
        turn.#speechEnded = false
        turn.#deadAir.callerSpeaking()
      },
      onPreempt (text) { turn.#preempt(text) },
      onPreemptDropped () { turn.#dropSpeculation('the caller went on') },
    }
  }

  /** Ends the clock and whatever the turn started; safe to call more than once. */
  dispose (): void {
    this.#dropSpeculation('turn over')
    this.#deadAir.dispose()
    // Aborting lets go of the call's and the script's signals too (they outlive the turn).
    if (!this.#signal.aborted) this.#abort(routineAbort('TURN_OVER', 'turn over'))
  }

  async run (heard: Utterance): Promise<TurnEnd> {
    const { ctx, media } = this.#setup
    this.#marks = { turn: this.#input.number, speechEndAt: heard.endedAt, sttFinalAt: heard.transcribedAt }
    const assistant = this.#assistant = this.#setup.history.beginAssistant()
    // A media that does not report the end of speech: the clock starts from the utterance's end.
    if (!this.#speechEnded) this.#heardEnd(heard.endedAt)
    try {
      for (;;) {
        const spoken: SpokenResult = await media.speak(this.#reply(), this.#speakOptions(), this.#signal)
        // Nothing is owed while a transfer rings (the connecting line and ringback play).
        this.#deadAir.sound()
        if (spoken.bargeIn !== undefined) {
          // The caller took the turn: stop thinking and synthesising at once, keep exactly what
          // was heard (the sentence cut where the agent paused), and listen.
          this.#abort(new PhoneAgentError('BARGE_IN', 'the caller barged in'))
          const playing = this.#sentences[spoken.bargeIn.sentence] ?? ''
          assistant.interrupt(cutAt(playing, spoken.bargeIn.heardFraction))
          this.#log.info({ sentence: spoken.bargeIn.sentence, heardMs: Math.round(spoken.bargeIn.heardMs) }, 'reply interrupted by the caller')
          return { kind: 'continue' }
        }
        const action = this.#pending
        if (action?.kind !== 'transfer') break
        const result = await this.#setup.transfer(action.target)
        if (result.connected || ctx.status.handedOff) {
          assistant.toolResult(action.toolCallId, JSON.stringify({ ok: true, connected: true }))
          assistant.complete()
          return { kind: 'transferred', target: action.target }
        }
        // Nobody took the call: the model hears why and carries on (offer a message).
        this.#log.info({ target: action.target, disposition: result.disposition }, 'transfer did not connect')
        assistant.toolResult(action.toolCallId, JSON.stringify({ ok: false, error: `the transfer did not connect (${result.disposition}); offer to take a message` }))
        this.#pending = undefined
        if (this.#rounds >= this.#setup.maxRounds) break
        // The caller is owed the model's next words, on the same terms as after their speech.
        this.#deadAir.owe()
        this.#deadAir.deadlineAt(Date.now() + this.#setup.turnMs, this.#setup.turnMs)
      }
      assistant.complete()
      const pending = this.#pending
      if (pending?.kind === 'end') return { kind: 'end', reason: pending.reason, spoke: this.#lastRoundSpoke }
      if (this.#sentences.length === 0 && this.#setup.sayInsteadOfSilence !== undefined) {
        this.#log.info({ rounds: this.#rounds }, 'reply ended with nothing said; saying the fixed line')
        await this.#setup.sayInsteadOfSilence(this.#signal)
      }
      return { kind: 'continue' }
    } catch (err) {
      // Committed with what was heard, marked interrupted.
      assistant.interrupt()
      if (!isCallEnded(err) && !(this.#signal.aborted && !this.#selfAborted && !this.#deadlineMissed)) {
        const code = isPhoneAgentError(err) ? err.code : 'SCRIPT_FAILED'
        const stage = this.#deadlineMissed ? 'deadline' : this.#llmFailed ? 'llm' : 'tts'
        this.#log.warn({ code, stage, err }, 'turn failed')
        ctx.recorder.error({ code, message: err instanceof Error ? err.message : String(err), provider: stage === 'llm' ? this.#setup.llm.name : stage })
      }
      throw err
    } finally {
      this.dispose()
      ctx.recorder.latency(this.#marks)
      this.#settleRound()
      const u = this.#usage
      if (u.input + u.output + u.tts > 0) ctx.recorder.usage({ llmInputTokens: u.input, llmOutputTokens: u.output, ttsCharacters: u.tts })
    }
  }

  /** The turn ends its own work; an abort from outside came first when the link is already aborted. */
  #abort (reason: unknown): void {
    if (!this.#signal.aborted) this.#selfAborted = true
    this.#controller.abort(reason)
  }

  /** The caller stopped speaking at `at`: they are owed audio from then, the answer by turnMs. */
  #heardEnd (at: number): void {
    this.#speechEnded = true
    this.#deadAir.owe(at)
    this.#deadAir.deadlineAt(at + this.#setup.turnMs, this.#setup.turnMs)
  }

  async * #reply (): AsyncGenerator<string> {
    const { llm, history, maxRounds } = this.#setup
    while (this.#rounds < maxRounds) {
      this.#rounds++
      this.#roundStart = this.#sentences.length
      this.#lastRoundSpoke = false
      const splitter = new SentenceSplitter({ language: this.#setup.language, maxChars: this.#setup.sentenceMaxChars })
      const calls: Array<{ id: string, name: string, arguments: string }> = []
      let early: EarlySentence | undefined
      // The round's request: the turn's signal, or no first token in time (then this alone aborts).
      const request = new AbortLink([this.#signal])
      let missed: PhoneAgentError | undefined
      const firstTimer = setTimeout(() => {
        missed = new PhoneAgentError('PROVIDER_TIMEOUT', `no first token within ${this.#setup.llmFirstTokenMs} ms`)
        request.abort(missed)
      }, this.#setup.llmFirstTokenMs)
      const llmSignal = request.signal
      this.#round = { open: true, usage: false, chars: 0 }
      try {
        const messages = history.messages()
        const adopted = this.#adoptSpeculation(messages, llmSignal)
        // A speculation started its own first sentence's synthesis.
        const { media, language, voice, sentenceMaxChars } = this.#setup
        early = adopted === undefined ? new EarlySentence({ media, language, voice, sentenceMaxChars, signal: this.#signal }) : undefined
        for await (const delta of adopted ?? llm.stream(messages, { signal: llmSignal, tools: this.#setup.tools })) {
          clearTimeout(firstTimer)
          this.#marks.llmFirstTokenAt ??= Date.now()
          if (delta.type === 'text') {
            this.#round.chars += delta.text.length
            for (const s of splitter.push(delta.text)) yield this.#emit(s, early)
            early?.offer(splitter.pending)
          } else if (delta.type !== 'usage') { // text before a tool call is over (text_end, or the call): say it all
            for (const s of splitter.flush()) yield this.#emit(s, early)
            if (delta.type === 'text_end') continue
            // Ids must be unique within the conversation; some servers restart them per response.
            const used = this.#usedIds ??= new Set()
            const id = used.has(delta.id) ? `${delta.id}_${used.size}` : delta.id
            used.add(id)
            calls.push({ id, name: delta.name, arguments: delta.arguments })
          } else {
            this.#round.usage = true
            this.#usage.input += delta.inputTokens
            this.#usage.output += delta.outputTokens
          }
        }
        for (const s of splitter.flush()) yield this.#emit(s, early)
      } catch (err) {
        if (!this.#signal.aborted) this.#llmFailed = true
        if (missed !== undefined && !this.#signal.aborted) throw missed
        throw err
      } finally {
        clearTimeout(firstTimer)
        // The round's stream is over: its link must not stay on the turn's signal.
        request.dispose()
        this.#settleRound()
        // A first sentence started early and not said (the words ran on, the round was cut) is billed.
        early?.settle(undefined)
        this.#usage.tts += early?.wasted ?? 0
      }
      if (calls.length === 0) return
      const { ctx, toolContext, lookupContact } = this.#setup
      this.#pending = runToolCalls(calls, this.#pending, { assistant: this.#assistant, ctx, toolContext, lookupContact, log: this.#log })
      // A transfer or hang-up waits for what was said before it; no further round.
      if (this.#pending !== undefined) return
    }
  }

  /**
   * Finished words at a short pause: ask the model now, on the prompt the turn will have if these
   * words are the turn. The answer is held (see Speculation) until run() adopts it.
   */
  #preempt (text: string): void {
    const { llm, history, tools, media, language, voice, sentenceMaxChars } = this.#setup
    this.#dropSpeculation('newer words')
    if (this.#signal.aborted) return
    const messages = [...history.messages(), { role: 'user' as const, content: text }]
    this.#speculation = new Speculation({ llm, tools, messages, media, language, voice, sentenceMaxChars, signal: this.#signal })
    this.#log.debug('preemptive reply started')
  }

  /** The first round's answer, when a preemptive reply was asked on this very prompt. */
  #adoptSpeculation (messages: ReturnType<ConversationHistory['messages']>, signal: AbortSignal): AsyncIterable<LlmDelta> | undefined {
    const speculation = this.#speculation
    if (speculation === undefined || this.#rounds !== 1) return undefined
    this.#speculation = undefined
    const deltas = speculation.adopt(messages, signal)
    if (deltas !== undefined) this.#log.debug('preemptive reply used')
    else this.#discard(speculation, 'the prompt changed')
    return deltas
  }

  #dropSpeculation (why: string): void {
    const speculation = this.#speculation
    this.#speculation = undefined
    if (speculation !== undefined) this.#discard(speculation, why)
  }

  /** A preemptive reply nobody will hear: counted, and billed (the vendors bill it all the same). */
  #discard (speculation: Speculation, why: string): void {
    const cost = speculation.discard(new PhoneAgentError('TURN_OVER', `preemptive reply discarded: ${why}`))
    if (cost === undefined) return
    this.#log.info({ why, ...cost }, 'preemptive reply discarded')
    this.#setup.ctx.recorder.usage({ ...cost, preemptiveDiscarded: 1 })
  }

  #emit (sentence: string, early?: EarlySentence): string {
    early?.settle(sentence)
    this.#ids.push(this.#assistant.say(sentence))
    this.#sentences.push(sentence)
    this.#lastRoundSpoke = true
    this.#marks.firstSentenceAt ??= Date.now()
    return sentence
  }

  #speakOptions (): SpeakOptions {
    const dead = this.#deadAir
    return {
      language: this.#setup.language,
      voice: this.#setup.voice,
      onFirstAudio: () => { this.#marks.ttsAudioAt ??= Date.now() },
      onSynthesized: (characters: number) => { this.#usage.tts += characters },
      lineFree: async () => { await dead.lineFree() },
      onPlayStart: (index: number) => {
        dead.sound()
        dead.clearDeadline()
        this.#lastPlayStart = index
      },
      onFirstFrame: () => { this.#marks.firstFrameAt ??= Date.now() },
      onPlayed: (index: number) => {
        const id = this.#ids[index]
        if (id !== undefined) this.#assistant.spoken(id)
        dead.owe()
      },
      // A streamed sentence that ran dry mid-way is silence like any other.
      onStarved: () => { dead.owe() },
      onSound: () => { dead.sound() },
    }
  }

  #settleRound (): void {
    const round = this.#round
    if (!round.open) return
    round.open = false
    if (round.usage) return
    this.#usage.input += Math.ceil(JSON.stringify(this.#setup.history.messages()).length / CHARS_PER_TOKEN)
    this.#usage.output += Math.ceil(round.chars / CHARS_PER_TOKEN)
  }
}
