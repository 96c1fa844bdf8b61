import { FrameClassifier, type FrameClass, type FrameVerdict } from './classify.ts'

export type { FrameClass, FrameVerdict } from './classify.ts'

/**
 * Voice activity detection and endpointing on the caller's 20 ms frames, in pure TypeScript.
 *
 * Each frame is classed quiet, tone, voiced or unvoiced from its features (classify.ts).
 *
 * Speech starts after `minSpeechMs` of voiced frames with no gap longer than `maxGapMs`, so
 * clicks, coughs and short noises never start it; the start time reported is the first voiced
 * frame, so a recogniser can be given the audio from there. Speech ends after `endSilenceMs`
 * without voiced frames (unvoiced frames shortly after voiced ones count as speech: the "s"
 * of "yes").
 */

export interface VadOptions {
  /** 8000 or 16000. */
  readonly rate: number
  /** Silence that ends an utterance (default 500 ms; 300-600 suits conversation). */
  readonly endSilenceMs?: number
  /** Voiced audio needed to declare speech (default 200 ms): shorter sounds are ignored. */
  readonly minSpeechMs?: number
  /** While confirming a start, a gap in voicing longer than this restarts the count (default 200 ms). */
  readonly maxGapMs?: number
  /** Frames below this level are quiet whatever the floor (default -45 dBFS). */
  readonly minEnergyDb?: number
  /** Level above the noise floor a frame needs to count (default 9 dB). */
  readonly snrDb?: number
}

export type VadEvent =
  | { readonly type: 'speech-start', readonly at: number, readonly detectedAt: number }
  | { readonly type: 'speech-end', readonly startAt: number, readonly endAt: number, readonly detectedAt: number, readonly voicedMs: number }

/**
 * What the call engine needs from a detector, whichever engine runs it: frames pushed one at
 * a time, events returned synchronously.
 */
export interface VoiceDetector {
  /** Feed one 20 ms frame starting at `at` ms; returns the event this frame completed, if any. */
  push (samples: Int16Array, at: number): VadEvent | undefined
  readonly speaking: boolean
  /**
   * While speaking: where the speech so far ends (the end of its last active frame), which is
   * the `endAt` of the speech-end to come unless the caller goes on. Undefined when not speaking.
   */
  readonly speechEndSoFar: number | undefined
  /** The last frame's classic features and class (logs, tuning). */
  readonly lastFrame: FrameVerdict | undefined
  /** Free what the detector holds beyond memory (the Silero engine's batch slot). Idempotent. */
  close (): void
}

const TRAILING_UNVOICED_MS = 300

export class Vad implements VoiceDetector {
  readonly #classifier: FrameClassifier
  readonly #frameMs = 20
  readonly #endSilenceMs: number
  readonly #minSpeechMs: number
  readonly #maxGapMs: number
  #speaking = false
  #candidateAt: number | undefined
  #voicedMs = 0
  #gapMs = 0
  #sinceVoicedMs = Infinity
  #startAt = 0
  #lastActiveEnd = 0
  #silenceMs = 0
  #last: FrameVerdict | undefined

  constructor (options: VadOptions) {
    this.#classifier = new FrameClassifier(options)
    this.#endSilenceMs = options.endSilenceMs ?? 500
    this.#minSpeechMs = options.minSpeechMs ?? 200
    this.#maxGapMs = options.maxGapMs ?? 200
  }

  get speaking (): boolean { return this.#speaking }
  get speechEndSoFar (): number | undefined { return this.#speaking ? this.#lastActiveEnd : undefined }

  /** The last frame's features and class (logs, tuning). */
  get lastFrame (): FrameVerdict | undefined { return this.#last }

  /**
   * Feed one 20 ms frame starting at `at` (ms on any timeline: the frame's `mediaMs`). Returns
   * the event this frame completed, if any.
   */
  push (samples: Int16Array, at: number): VadEvent | undefined {
    const verdict = this.#classifier.classify(samples)
    this.#last = verdict
    return this.#speaking ? this.#whileSpeaking(verdict.class, at) : this.#whileQuiet(verdict.class, at)
  }

  close (): void {}

  #whileQuiet (cls: FrameClass, at: number): VadEvent | undefined {
    if (cls === 'voiced') {
      this.#candidateAt ??= at
      this.#voicedMs += this.#frameMs
      this.#gapMs = 0
      this.#sinceVoicedMs = 0
    } else {
      this.#gapMs += this.#frameMs
      if (this.#gapMs > this.#maxGapMs) {
        this.#candidateAt = undefined
        this.#voicedMs = 0
      }
      return undefined
    }
    if (this.#voicedMs < this.#minSpeechMs) return undefined
    this.#speaking = true
    this.#startAt = this.#candidateAt
    this.#lastActiveEnd = at + this.#frameMs
    this.#silenceMs = 0
    this.#candidateAt = undefined
    return { type: 'speech-start', at: this.#startAt, detectedAt: at + this.#frameMs }
  }

  #whileSpeaking (cls: FrameClass, at: number): VadEvent | undefined {
    this.#sinceVoicedMs = cls === 'voiced' ? 0 : this.#sinceVoicedMs + this.#frameMs
    const active = cls === 'voiced' || (cls === 'unvoiced' && this.#sinceVoicedMs <= TRAILING_UNVOICED_MS)
    if (cls === 'voiced') this.#voicedMs += this.#frameMs
    if (active) {
      this.#lastActiveEnd = at + this.#frameMs
      this.#silenceMs = 0
      return undefined
    }
    this.#silenceMs += this.#frameMs
    if (this.#silenceMs < this.#endSilenceMs) return undefined
    const event: VadEvent = { type: 'speech-end', startAt: this.#startAt, endAt: this.#lastActiveEnd, detectedAt: at + this.#frameMs, voicedMs: this.#voicedMs }
    this.#speaking = false
    this.#voicedMs = 0
    this.#gapMs = 0
    return event
  }
}
