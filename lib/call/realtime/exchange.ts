import type { Logger } from 'pino'
import type { AgentConfig } from '../../agent/config.ts'
import type { Contact } from '../../agent/contacts.ts'
import type { ToolValidation } from '../../agent/tools.ts'
import { PhoneAgentError, abortReason } from '../../errors.ts'
import { silentSamples } from '../../media/pcm.ts'
import { StreamingResampler } from '../../media/resample-stream.ts'
import type { InboundFrame } from '../../media/stream/index.ts'
import type { VoiceDetector } from '../../media/vad/vad.ts'
import type { BargeInConfig } from '../../media/stream/turn-taking.ts'
import type { RealtimeEvent, RealtimeSession } from '../../realtime/types.ts'
import type { VerbContext } from '../context.ts'
import { recordRealtimeUsage } from '../cost.ts'
import type { StreamSession } from '../stream/session.ts'
import { runTool, type TerminalAction } from '../turn-tools.ts'
import type { ConverseResult } from '../verbs/converse.ts'
import type { RealtimeEndings } from './endings.ts'
import type { EventFeed } from './feed.ts'
import { RealtimePlayer } from './player.ts'
import { hangup } from '../verbs/hangup.ts'

export interface ExchangeOptions {
  readonly ctx: VerbContext
  readonly stream: StreamSession
  readonly session: RealtimeSession
  /** The session's events (one reader for the call). */
  readonly feed: EventFeed
  readonly vendor: string
  readonly model: string
  readonly agent: AgentConfig
  readonly endings: RealtimeEndings
  readonly log: Logger
  /** Longest silence the caller may wait for the vendor's answer; past it, the fallback. */
  readonly deadAirMs: number
  /** What is left of the call's maximum duration. */
  readonly maxMs: number
  readonly maxTurns?: number | undefined
  readonly bargeIn: BargeInConfig
  readonly validate: (name: string, args: string) => ToolValidation
  readonly lookupContact: (number: string) => Contact | undefined
  /** The phase's signal (call ended, operator key): aborting it ends the exchange with its reason. */
  readonly signal: AbortSignal
}

/** Model text in logs is cut short: it is steered by the caller. */
const MODEL_TEXT_IN_LOGS = 40

/**
 * One realtime exchange: caller frames up (echo guard, our VAD, one resampling step, the
 * vendor), vendor events down (one resampling step, the paced endpoint queue), until a tool
 * ends it, the clock runs out, or something fails. Two lanes as in the pipeline: the caller
 * starting to talk (our VAD or the vendor's) cuts our output at once, on the frame's event;
 * the vendor's audio is an ordered queue that the cut clears.
 */
export class RealtimeExchange {
  readonly #o: ExchangeOptions
  readonly #player: RealtimePlayer
  readonly #up: StreamingResampler
  readonly #texts = new Map<string, string>()
  readonly #recorded = new Set<string>()
  readonly #cut = new Set<string>()
  #settle: { resolve: (r: ConverseResult) => void, reject: (e: unknown) => void } | undefined
  /** Set once a tool (or the clock) takes over: caller audio stops going up, vendor audio is ignored. */
  #holding = false
  #action: TerminalAction | undefined
  /** The vendor reports the caller's speech itself (OpenAI): it, not our VAD, says when an answer is owed. */
  #vendorVad = false
  #owed: NodeJS.Timeout | undefined
  #callerText = ''
  #latency: { turn: number, speechEndAt: number, sttFinalAt?: number } | undefined
  #latencyTurns = 0
  #audioIn = 0
  #audioOut = 0
  #vadEnd: number | undefined
  /** This exchange's detector of the caller's speech (run() makes it). */
  #vad: VoiceDetector | undefined
  /** When the last answer's audio began (a VAD end before it belongs to an earlier turn) and whether its latency was recorded. */
  #lastAnswer: { at: number, firstFrameAt: number, measured: boolean } | undefined

  constructor (options: ExchangeOptions) {
    this.#o = options
    this.#player = new RealtimePlayer(options.stream.endpoint, options.session.outputRate)
    this.#up = new StreamingResampler(options.stream.rate, options.session.inputRate)
  }

  async run (): Promise<ConverseResult> {
    const { stream, signal } = this.#o
    if (signal.aborted) throw abortReason(signal)
    const done = new Promise<ConverseResult>((resolve, reject) => { this.#settle = { resolve, reject } })
    const onAbort = (): void => { this.#fail(abortReason(signal)) }
    signal.addEventListener('abort', onAbort, { once: true })
    const vad = stream.newVad()
    this.#vad = vad
    const stopFrames = stream.endpoint.onFrame((frame) => { this.#onFrame(frame, vad) })
    // A stream FreeSWITCH never started carries nothing either way: the exchange ends with why.
    const stopFailure = stream.onFailure((failure) => { this.#fail(failure) })
    const maxTimer = setTimeout(() => { this.#takeOver(async () => await this.#o.endings.goodbye('max-duration')) }, this.#o.maxMs)
    const unsubscribe = this.#o.feed.subscribe({
      event: (e) => { if (this.#settle !== undefined) this.#onEvent(e) },
      // Once a tool or the clock has taken over, the vendor is not needed: a socket it closes
      // then must not turn a transfer in progress into an apology.
      end: (err) => { if (!this.#holding) this.#fail(err) },
    })
    try {
      return await done
    } finally {
      signal.removeEventListener('abort', onAbort)
      unsubscribe()
      stopFrames()
      stopFailure()
      vad.close()
      clearTimeout(maxTimer)
      this.#paid()
      this.#wrapUp()
      // Audio both ways, for comparing with the vendor's bill (the record has its tokens).
      this.#o.log.info({ vendor: this.#o.vendor, audioInSeconds: Math.round(this.#audioIn * 10) / 10, audioOutSeconds: Math.round(this.#audioOut * 10) / 10 }, 'realtime audio')
    }
  }

  #onFrame (frame: InboundFrame, vad: ReturnType<StreamSession['newVad']>): void {
    if (this.#settle === undefined || this.#holding) return
    // Our own voice echoing back on the caller's line must not sound like the caller (the session's echo guard).
    const samples = this.#o.stream.echoOnly(frame) ? silentSamples(frame.samples.length) : frame.samples
    const event = vad.push(samples, Date.now())
    if (event?.type === 'speech-start' && this.#o.bargeIn.enabled) this.#callerStarted('vad')
    else if (event?.type === 'speech-end') this.#callerStopped(event.endAt, 'vad')
    const up = this.#up.push(samples)
    if (up.length > 0) {
      this.#o.session.sendAudio(up)
      this.#audioIn += up.length / this.#o.session.inputRate
    }
  }

  #onEvent (e: RealtimeEvent): void {
    const { log, endings } = this.#o
    switch (e.type) {
      case 'audio': {
        if (this.#holding || this.#cut.has(e.item)) return
        this.#paid()
        if (e.item !== this.#player.item) this.#newItem()
        const now = Date.now()
        this.#audioOut += e.pcm.length / this.#o.session.outputRate
        const firstFrameAt = this.#player.play(e.pcm, e.item)
        if (firstFrameAt === undefined) return
        let measured = this.#latency !== undefined
        if (this.#latency !== undefined) {
          // Our VAD's end of speech is the true one when it came for this utterance; the
          // vendor's `speech_stopped` arrives after its own end-of-turn silence.
          const vadEnd = this.#vadEnd !== undefined && this.#vadEnd > (this.#lastAnswer?.at ?? 0) ? this.#vadEnd : undefined
          const speechEndAt = Math.min(this.#latency.speechEndAt, vadEnd ?? Infinity)
          this.#o.ctx.recorder.latency({ ...this.#latency, speechEndAt, llmFirstTokenAt: now, ttsAudioAt: now, firstFrameAt: Math.max(now, firstFrameAt) })
          this.#latency = undefined
        } else if (!this.#vendorVad && this.#vad?.speechEndSoFar !== undefined) {
          // The vendor answered inside our VAD's end silence, before it confirmed the end: the
          // answer is to the speech so far. Measured now, because the end may never be
          // confirmed: a tool the answer calls can take the call over, and then no more frames
          // reach the VAD (a barge-in turn's latency went missing so, about one call in two).
          this.#o.ctx.recorder.latency({ turn: ++this.#latencyTurns, speechEndAt: this.#vad.speechEndSoFar, llmFirstTokenAt: now, ttsAudioAt: now, firstFrameAt: Math.max(now, firstFrameAt) })
          measured = true
        }
        this.#lastAnswer = { at: now, firstFrameAt: Math.max(now, firstFrameAt), measured }
        return
      }
      case 'agent-text':
        if (!this.#cut.has(e.item)) this.#texts.set(e.item, (this.#texts.get(e.item) ?? '') + e.text)
        return
      case 'caller-text':
        if (!e.final) { this.#callerText += e.text; return }
        this.#callerText += e.text
        this.#flushCaller()
        return
      case 'speech-started':
        this.#vendorVad = true
        this.#callerStarted('vendor')
        return
      case 'interrupted':
        this.#callerStarted('vendor')
        return
      case 'speech-stopped':
        this.#vendorVad = true
        this.#callerStopped(Date.now(), 'vendor')
        return
      case 'tool-call':
        this.#tool(e.id, e.name, e.args)
        return
      case 'response-done': {
        if (e.usage !== undefined) recordRealtimeUsage(this.#o.ctx.recorder, { provider: this.#o.vendor, model: this.#o.model, ...e.usage })
        this.#flushCaller()
        const item = this.#player.item
        if (item !== undefined) void this.#player.itemDone().then((r) => { if (r?.status === 'sent') this.#heardAgent(item, 1) })
        const max = this.#o.maxTurns
        if (max !== undefined && endings.turns >= max && this.#action === undefined) this.#takeOver(async () => await endings.goodbye('max-turns'))
        return
      }
      case 'vendor-error':
        log.warn({ vendorCode: e.code.slice(0, MODEL_TEXT_IN_LOGS) }, 'realtime vendor refused a request')
        this.#o.ctx.recorder.error({ code: 'PROVIDER_BAD_REQUEST', message: `${this.#o.vendor}: ${e.code}: ${e.message}`.slice(0, 300), provider: this.#o.vendor })
    }
  }

  /** The caller started talking: whatever of ours is playing stops now and the vendor forgets the rest. */
  #callerStarted (source: 'vad' | 'vendor'): void {
    this.#paid()
    if (this.#holding || !this.#player.speaking) return
    const cut = this.#player.cut()
    if (cut === undefined) return
    this.#cut.add(cut.item)
    this.#o.session.truncate(cut.item, cut.playedMs)
    this.#heardAgent(cut.item, cut.totalMs === 0 ? 0 : cut.playedMs / cut.totalMs)
    this.#o.log.info({ source, playedMs: Math.round(cut.playedMs) }, 'caller barged in')
  }

  /** The caller stopped: from here they are owed an answer within the dead-air budget. */
  #callerStopped (at: number, source: 'vad' | 'vendor'): void {
    if (this.#holding) return
    if (source === 'vad') this.#vadEnd = at
    // The vendor's end of turn (OpenAI), or ours for a vendor that reports none (Gemini).
    if (source === 'vad' && this.#vendorVad) return
    const answer = this.#lastAnswer
    if (source === 'vad' && answer !== undefined && answer.at >= at) {
      // The vendor answered before our VAD confirmed the end (its end silence): that answer
      // was to this speech, and nothing is owed (measured when it began, or now).
      if (!answer.measured) {
        answer.measured = true
        this.#o.ctx.recorder.latency({ turn: ++this.#latencyTurns, speechEndAt: at, llmFirstTokenAt: answer.at, ttsAudioAt: answer.at, firstFrameAt: answer.firstFrameAt })
      }
      return
    }
    this.#latency ??= { turn: ++this.#latencyTurns, speechEndAt: at }
    this.#owe()
  }

  #tool (id: string, name: string, args: string): void {
    const { ctx, log, session } = this.#o
    if (this.#action !== undefined) {
      session.sendToolResult(id, name, JSON.stringify({ error: 'not run: the call is already being ended or transferred' }), false)
      return
    }
    const checked = this.#o.validate(name, args)
    if (!checked.ok) {
      // The model asked for something it may not do (a number, an unknown target): it hears
      // why and answers the caller; nothing is dialled.
      log.warn({ tool: name.slice(0, MODEL_TEXT_IN_LOGS), code: checked.code }, 'tool call refused')
      session.sendToolResult(id, name, JSON.stringify({ error: checked.error }), true)
      this.#owe()
      return
    }
    const outcome = runTool(checked.call, id, { ctx, log, lookupContact: this.#o.lookupContact })
    session.sendToolResult(id, name, outcome.result, outcome.action === undefined)
    if (outcome.action === undefined) { this.#owe(); return }
    const action = outcome.action
    this.#takeOver(async () => {
      if (action.kind === 'end') {
        if (ctx.channel.isUp) await hangup(ctx)
        return this.#o.endings.result('ended')
      }
      const result = await this.#o.endings.transfer(action.target)
      if (result.connected || ctx.status.handedOff) return this.#o.endings.result('transferred', action.target)
      // Nobody took the call: the caller hears so, the model is told, the conversation goes on.
      const text = this.#o.endings.text(this.#o.agent.transferFailed)
      await this.#o.endings.say(text, this.#o.signal)
      const ended = this.#o.feed.ended
      if (ended !== undefined) throw ended.err
      session.sayContext(text)
      this.#holding = false
      this.#action = undefined
      return undefined
    }, action)
  }

  /** A tool or the clock takes the call over once what the caller is hearing has played out. */
  #takeOver (fn: () => Promise<ConverseResult | undefined>, action?: TerminalAction): void {
    if (this.#settle === undefined || this.#holding) return
    this.#holding = true
    this.#action = action ?? { kind: 'end', reason: 'clock', toolCallId: '' }
    this.#paid()
    void (async () => {
      await this.#player.drained()
      const item = this.#player.item
      if (item !== undefined) this.#heardAgent(item, 1)
      return await fn()
    })().then((result) => { if (result !== undefined) this.#resolve(result) }, (err: unknown) => { this.#fail(err) })
  }

  #newItem (): void {
    this.#flushCaller()
    const previous = this.#player.item
    if (previous !== undefined && !this.#cut.has(previous)) this.#heardAgent(previous, 1)
  }

  #flushCaller (): void {
    const text = this.#callerText.trim()
    this.#callerText = ''
    if (text === '') return
    if (this.#latency !== undefined) this.#latency = { ...this.#latency, sttFinalAt: Date.now() }
    this.#o.endings.heard('caller', text, Date.now())
  }

  /** The agent's words of `item` as heard: all of them, or the share played before a cut. */
  #heardAgent (item: string, fraction: number): void {
    if (this.#recorded.has(item)) return
    this.#recorded.add(item)
    const text = (this.#texts.get(item) ?? '').trim()
    if (fraction >= 1) { this.#o.endings.heard('agent', text, Date.now()); return }
    const at = Math.round(text.length * Math.max(0, fraction))
    const space = text.lastIndexOf(' ', at)
    this.#o.endings.heard('agent', text.slice(0, space > 0 ? space : at).trim(), Date.now(), true)
  }

  #owe (): void {
    if (this.#holding || this.#settle === undefined) return
    clearTimeout(this.#owed)
    const budget = this.#o.deadAirMs
    this.#owed = setTimeout(() => {
      this.#owed = undefined
      this.#fail(new PhoneAgentError('PROVIDER_TIMEOUT', `${this.#o.vendor} realtime: no answer audio within ${budget} ms`))
    }, budget)
  }

  #paid (): void {
    clearTimeout(this.#owed)
    this.#owed = undefined
  }

  #resolve (result: ConverseResult): void {
    const settle = this.#settle
    this.#settle = undefined
    settle?.resolve(result)
  }

  #fail (err: unknown): void {
    const settle = this.#settle
    this.#settle = undefined
    settle?.reject(err)
  }

  /** Whatever is still queued stops (a failure, a hang-up); the transcript keeps what was heard. */
  #wrapUp (): void {
    this.#flushCaller()
    const cut = this.#player.speaking ? this.#player.cut() : undefined
    if (cut !== undefined) this.#heardAgent(cut.item, cut.totalMs === 0 ? 0 : cut.playedMs / cut.totalMs)
    const item = this.#player.item
    if (item !== undefined && !this.#cut.has(item)) this.#heardAgent(item, 1)
  }
}
