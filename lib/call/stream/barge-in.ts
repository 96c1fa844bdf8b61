import type { Logger } from 'pino'
import type { InboundFrame, MediaEndpoint, PlayoutResult } from '../../media/stream/index.ts'
import type { BargeInConfig } from '../../media/stream/turn-taking.ts'
import type { VoiceDetector } from '../../media/vad/index.ts'
import type { SttProvider } from '../../speech/stt/types.ts'
import { overlapKind } from '../conversation/words.ts'
import { wallClockOf, type CarriedSpeech } from './hear.ts'
import { UtteranceRecognition } from './utterance.ts'

/**
 * Barge-in in two steps, while the agent speaks over the stream:
 * 1. At the first voiced frames (`pauseAfterMs`), pause our output within one frame: the queue
 *    holds its place, FreeSWITCH gets silence.
 * 2. Decide. Speech that goes on for `confirmAfterMs` is a barge-in whatever it says. Speech
 *    that stops sooner is judged by its length and then its words: below `minSpeechMs` of
 *    voice (a cough, a click) or a backchannel ("mhm", "sì", "ja") the agent resumes exactly
 *    where it paused; an interrupting word ("stop", "aspetta", "warte") or anything else is a
 *    barge-in. The speech that interrupted is handed to the next listen (still going on, or
 *    already recognised).
 * On a barge-in the queue is cleared; what the caller heard of the sentence is what was sent
 * before the pause (the queue's own count), not an estimate.
 */

export interface BargeInDeps {
  readonly endpoint: MediaEndpoint
  /** A VAD that starts at `pauseAfterMs` of voice and ends on the candidate pause. */
  readonly newVad: () => VoiceDetector
  readonly ring: () => readonly InboundFrame[]
  /** Without a recogniser, every overlap of `minSpeechMs` is a barge-in. */
  readonly stt: SttProvider | undefined
  readonly sampleRate: number
  readonly language: string
  readonly config: BargeInConfig
  readonly preRollMs: number
  readonly log: Logger
  readonly signal: AbortSignal
}

export interface ConfirmedBargeIn {
  /** When the caller's speech began (epoch ms). */
  readonly at: number
  readonly carried: CarriedSpeech
  /** What was queued when it was cleared: the first item is the sentence that was playing. */
  readonly cut: readonly PlayoutResult[]
}

type State =
  | { readonly kind: 'idle' }
  | { readonly kind: 'paused', readonly startAt: number, readonly frames: InboundFrame[] }
  | { readonly kind: 'deciding', readonly startAt: number, readonly endAt: number, readonly frames: InboundFrame[], readonly recognition: UtteranceRecognition }

export class BargeInWatcher {
  readonly confirmed: Promise<ConfirmedBargeIn>
  /** Overlaps that only paused the agent (coughs, backchannels), for the logs and the tests. */
  resumed = 0
  readonly #deps: BargeInDeps
  #vad: VoiceDetector
  /** Set once #vad was handed to the next listen. */
  #vadHandedOver = false
  #state: State = { kind: 'idle' }
  #resolve!: (c: ConfirmedBargeIn) => void
  #done = false

  constructor (deps: BargeInDeps) {
    this.#deps = deps
    this.#vad = deps.newVad()
    this.confirmed = new Promise((resolve) => { this.#resolve = resolve })
  }

  push (frame: InboundFrame): void {
    if (this.#done) return
    const event = this.#vad.push(frame.vadSamples ?? frame.samples, frame.mediaMs)
    const state = this.#state
    if (state.kind === 'idle') {
      if (event?.type !== 'speech-start') return
      this.#deps.endpoint.pause()
      const from = event.at - this.#deps.preRollMs
      const startAt = wallClockOf(event.at, event.detectedAt)
      this.#state = { kind: 'paused', startAt, frames: this.#deps.ring().filter((f) => f.mediaMs >= from) }
      this.#deps.log.debug('caller speech over the agent: paused')
      return
    }
    state.frames.push(frame)
    if (state.kind === 'deciding') {
      state.recognition.push(frame)
      // More speech while its words are being judged: the caller is taking the turn.
      if (event?.type === 'speech-start') this.#confirm(state.startAt, this.#continuing(state))
      return
    }
    if (event?.type === 'speech-end') {
      this.#judge(state, event.voicedMs, wallClockOf(event.endAt, event.detectedAt))
      return
    }
    if (Date.now() - state.startAt >= this.#deps.config.confirmAfterMs) {
      this.#confirm(state.startAt, this.#continuing(state))
    }
  }

  /**
   * The reply ended while an overlap was still being judged: the caller's speech is theirs to
   * finish, so it goes to the next listen (still going on, or ended and to be recognised).
   */
  takePending (): CarriedSpeech | undefined {
    const state = this.#state
    if (this.#done || state.kind === 'idle') return undefined
    this.#done = true
    if (state.kind === 'paused') return this.#continuing(state)
    state.recognition.dispose()
    return { frames: state.frames, startAt: state.startAt, endedAt: state.endAt }
  }

  dispose (): void {
    this.#done = true
    if (this.#state.kind === 'deciding') this.#state.recognition.dispose()
    if (!this.#vadHandedOver) this.#vad.close()
  }

  /** Speech still going on: its detector goes with it to the next listen. */
  #continuing (state: { startAt: number, frames: InboundFrame[] }): CarriedSpeech {
    this.#vadHandedOver = true
    return { vad: this.#vad, frames: state.frames, startAt: state.startAt }
  }

  #judge (state: Extract<State, { kind: 'paused' }>, voicedMs: number, endAt: number): void {
    const { config, stt } = this.#deps
    if (voicedMs < config.minSpeechMs) { this.#resume('too short'); return }
    if (stt === undefined) { this.#confirm(state.startAt, this.#continuing(state)); return }
    const recognition = new UtteranceRecognition(stt, { sampleRate: this.#deps.sampleRate, language: this.#deps.language, signals: [this.#deps.signal] }, state.frames)
    this.#state = { kind: 'deciding', startAt: state.startAt, endAt, frames: state.frames, recognition }
    recognition.finish().then((text) => {
      if (this.#done || this.#state.kind !== 'deciding' || this.#state.recognition !== recognition) return
      const kind = overlapKind(text.text, this.#deps.language)
      if (kind === 'backchannel') { this.#resume('backchannel'); return }
      this.#deps.log.debug({ kind }, 'caller words over the agent')
      this.#confirm(state.startAt, {
        frames: state.frames,
        startAt: state.startAt,
        recognised: { text, endAt, audioMs: recognition.audioMs },
      })
    }, (err: unknown) => {
      // The recogniser failed on a short overlap: safer to let the caller have the turn.
      if (this.#done) return
      this.#deps.log.warn({ err }, 'overlap not recognised; treating it as a barge-in')
      this.#confirm(state.startAt, { frames: state.frames, startAt: state.startAt, endedAt: endAt })
    })
  }

  #resume (why: string): void {
    if (this.#state.kind === 'deciding') this.#state.recognition.dispose()
    this.#state = { kind: 'idle' }
    this.#vad.close()
    this.#vad = this.#deps.newVad()
    this.resumed++
    this.#deps.endpoint.resume()
    this.#deps.log.debug({ why }, 'overlap was not a barge-in: resumed')
  }

  #confirm (at: number, carried: CarriedSpeech): void {
    if (this.#done) return
    this.#done = true
    if (this.#state.kind === 'deciding' && carried.recognised === undefined) this.#state.recognition.dispose()
    const cut = this.#deps.endpoint.clear()
    this.#resolve({ at, carried, cut })
  }
}
