import type { Logger } from 'pino'
import { textFor } from '../../agent/config.ts'
import { PhoneAgentError, isCallEnded, routineAbort } from '../../errors.ts'
import { AbortLink } from '../../providers/abort-link.ts'
import type { VerbContext } from '../context.ts'
import { playPath } from '../verbs/play.ts'

/**
 * The dead-air budget of one turn: whenever the caller is owed audio (from the end of their
 * speech, between sentences, after a transfer that did not connect) and hears nothing for
 * `budgetMs`, a short pre-rendered filler plays ("Un attimo."), at most `maxFillers` times and
 * only before the answer has started; when no filler may play, the silence is over budget and
 * the turn expires (the conversation apologises and falls back). A hard deadline (the turn's
 * `turnMs`) bounds the wait for the answer's first audio whatever the fillers do.
 *
 * The clock knows nothing about providers: it is told when the caller is owed audio (`owe`),
 * when something is playing (`sound`) and when the caller talks again (`callerSpeaking`), so
 * STT, LLM, tools, TTS and a stalled stream are bounded alike.
 */

export interface DeadAirOptions {
  /** Longest silence the caller may hear while they are owed audio. */
  readonly budgetMs: number
  /** Fillers at most in one turn. */
  readonly maxFillers: number
  /** Plays the filler; resolves once it was heard. Absent: the first expiry ends the turn. */
  readonly fill?: ((signal: AbortSignal) => Promise<void>) | undefined
  /** Whether a filler may break the silence now: never once the answer has started. */
  readonly mayFill: () => boolean
  /** Called once, when the caller must wait no longer. */
  readonly expire: (reason: PhoneAgentError) => void
  /** The turn's signal: ends the filler with the turn. */
  readonly signal: AbortSignal
  readonly log: Logger
}

/**
 * The filler (or the apology) is started this long before the budget runs out: starting a file
 * takes time (reading it, FreeSWITCH's `playback` round trip, the stream's 20 ms frame clock),
 * and the budget is what the caller hears.
 */
const START_LEAD_MS = 100

export class DeadAir {
  readonly #o: DeadAirOptions
  /** Whether the caller is waiting for us (not talking, nothing of ours playing). */
  #owed = false
  /** When the present silence began (epoch ms). */
  #since = 0
  #timer: NodeJS.Timeout | undefined
  #deadline: NodeJS.Timeout | undefined
  #fillers = 0
  #filler: { readonly controller: AbortLink, readonly done: Promise<void> } | undefined
  /** A filler could not be played (not pre-rendered, playback failed): only the deadline is left. */
  #fillBroken = false
  #expired = false

  constructor (options: DeadAirOptions) {
    this.#o = options
  }

  get expired (): boolean { return this.#expired }
  get fillers (): number { return this.#fillers }

  /** The caller is owed audio from `at` (epoch ms) on. */
  owe (at = Date.now()): void {
    if (this.#expired) return
    this.#owed = true
    this.#since = at
    this.#schedule()
  }

  /** Something of ours is playing: no dead air until `owe` again. */
  sound (): void {
    this.#owed = false
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /** The caller talks again (they went on after a pause): the filler stops, nothing is owed. */
  callerSpeaking (): void {
    this.sound()
    this.clearDeadline()
    this.#filler?.controller.abort(new PhoneAgentError('BARGE_IN', 'the caller went on speaking'))
  }

  /** The answer's first audio must come by `at` (epoch ms). */
  deadlineAt (at: number, turnMs: number): void {
    if (this.#expired) return
    clearTimeout(this.#deadline)
    this.#deadline = setTimeout(() => {
      this.#deadline = undefined
      this.#expire(`no reply audio within ${turnMs} ms`)
    }, Math.max(0, at - Date.now()))
  }

  clearDeadline (): void {
    clearTimeout(this.#deadline)
    this.#deadline = undefined
  }

  /** Resolves when no filler is playing: the answer waits for the line, never talks over it. */
  async lineFree (): Promise<void> {
    await this.#filler?.done
  }

  dispose (): void {
    this.sound()
    this.clearDeadline()
    this.#filler?.controller.abort(routineAbort('TURN_OVER', 'turn over'))
  }

  #schedule (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (!this.#owed || this.#filler !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#onSilence()
    }, Math.max(0, this.#since + Math.max(this.#o.budgetMs / 2, this.#o.budgetMs - START_LEAD_MS) - Date.now()))
  }

  #onSilence (): void {
    if (!this.#owed || this.#expired || this.#o.signal.aborted) return
    // A filler that cannot play leaves the deadline as the only bound (logged once).
    if (this.#fillBroken) return
    const { fill, maxFillers } = this.#o
    if (fill !== undefined && this.#fillers < maxFillers && this.#o.mayFill()) {
      this.#play(fill)
      return
    }
    this.#expire(`the caller heard nothing for ${this.#o.budgetMs} ms (${this.#fillers} fillers played)`)
  }

  #play (fill: (signal: AbortSignal) => Promise<void>): void {
    this.#fillers++
    // Follows the turn's signal (which ends with the turn).
    const controller = new AbortLink([this.#o.signal])
    const signal = controller.signal
    this.#o.log.info({ filler: this.#fillers, silentMs: Date.now() - this.#since }, 'dead air: filler')
    const done = fill(signal).then(() => {}, (err: unknown) => {
      if (signal.aborted || isCallEnded(err)) return
      this.#fillBroken = true
      this.#o.log.warn({ err }, 'dead air: the filler could not be played')
    }).finally(() => {
      if (this.#filler?.controller !== controller) return
      this.#filler = undefined
      // Heard in full (or failed): if nothing else plays, the silence starts again now.
      if (this.#owed) this.owe()
    })
    this.#filler = { controller, done }
  }

  #expire (why: string): void {
    if (this.#expired) return
    this.#expired = true
    this.sound()
    this.clearDeadline()
    this.#o.log.warn({ fillers: this.#fillers }, 'dead air: the caller waited too long')
    this.#o.expire(new PhoneAgentError('PROVIDER_TIMEOUT', why))
  }
}

/**
 * The call's filler (`agent.fillers.text` in `language`), pre-rendered only: it plays while a
 * provider may be down, so it must never wait for TTS. Rejects when it was not pre-rendered.
 */
export function fillerFor (ctx: VerbContext, language: string, voice: string | undefined): (signal: AbortSignal) => Promise<void> {
  return async (signal) => {
    const texts = ctx.agent?.config.fillers.text
    const path = texts === undefined ? undefined : ctx.agent?.canned.lookup(textFor(texts, language), language, voice)
    if (path === undefined) throw new PhoneAgentError('MEDIA_INVALID', 'the filler is not pre-rendered')
    await playPath(ctx, path, { signal })
  }
}
