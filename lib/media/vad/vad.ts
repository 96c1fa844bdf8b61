import { FeatureExtractor, type FrameFeatures } from './features.ts'

/**
 * Voice activity detection and endpointing on the caller's 20 ms frames, in pure TypeScript.
 *
 * Each frame is classed from its features (see features.ts):
 * - `quiet`: below `minEnergyDb`, or less than `snrDb` above the tracked noise floor;
 * - `tone`: a pure tone or tone pair above 310 Hz (ringback, busy, DTMF): almost all power in
 *   two spectral peaks, or a slightly less pure frame continuing a tone at the same frequency
 *   (the 40 Hz beat of 440+480 Hz ringback dips within a frame);
 * - `voiced`: periodic at a pitch between 80 and 400 Hz and not noise-flat: the evidence of speech;
 * - `unvoiced`: loud but neither (fricatives, noise, coughs, clicks).
 *
 * Speech starts after `minSpeechMs` of voiced frames with no gap longer than `maxGapMs`, so
 * clicks, coughs and short noises never start it; the start time reported is the first voiced
 * frame, so a recogniser can be given the audio from there. Speech ends after `endSilenceMs`
 * without voiced frames (unvoiced frames shortly after voiced ones count as speech: the "s"
 * of "yes"). The noise floor follows the quiet and unvoiced frames: down at once, up over
 * seconds, so steady line noise stops counting as loud.
 */

export type FrameClass = 'quiet' | 'tone' | 'voiced' | 'unvoiced'

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

export interface FrameVerdict extends FrameFeatures {
  readonly class: FrameClass
  readonly floorDb: number
}

// Evidence thresholds, measured on synthetic and flite speech, tones and noise (test/media-stream).
const PERIODICITY = 0.5
const MAX_FLATNESS = 0.3
const PURE_TONE_SHARE = 0.97
const TONE_CONTINUE_SHARE = 0.75
// Every call-progress and DTMF tone is at 350 Hz or above; a dominant peak below ~310 Hz is
// a voice's fundamental (low-passed voices put most of their power there), never a tone.
const MIN_TONE_BIN = 10
const TRAILING_UNVOICED_MS = 300
const FLOOR_START_DB = -65
const FLOOR_DOWN = 0.3
const FLOOR_UP = 0.01

export class Vad {
  readonly #extractor: FeatureExtractor
  readonly #frameMs = 20
  readonly #endSilenceMs: number
  readonly #minSpeechMs: number
  readonly #maxGapMs: number
  readonly #minEnergyDb: number
  readonly #snrDb: number
  #floorDb = FLOOR_START_DB
  #prevTone = false
  #prevPeakBin = -1
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
    this.#extractor = new FeatureExtractor(options.rate)
    this.#endSilenceMs = options.endSilenceMs ?? 500
    this.#minSpeechMs = options.minSpeechMs ?? 200
    this.#maxGapMs = options.maxGapMs ?? 200
    this.#minEnergyDb = options.minEnergyDb ?? -45
    this.#snrDb = options.snrDb ?? 9
  }

  get speaking (): boolean { return this.#speaking }

  /** The last frame's features and class (logs, tuning). */
  get lastFrame (): FrameVerdict | undefined { return this.#last }

  /**
   * Feed one 20 ms frame starting at `at` (ms on any timeline: the frame's `mediaMs`). Returns
   * the event this frame completed, if any.
   */
  push (samples: Int16Array, at: number): VadEvent | undefined {
    const features = this.#extractor.measure(samples, this.#minEnergyDb)
    const cls = this.#classify(features)
    this.#last = { ...features, class: cls, floorDb: this.#floorDb }
    this.#track(features, cls)
    return this.#speaking ? this.#whileSpeaking(cls, at) : this.#whileQuiet(cls, at)
  }

  #classify (f: FrameFeatures): FrameClass {
    if (f.energyDb < this.#minEnergyDb || f.energyDb < this.#floorDb + this.#snrDb) {
      this.#prevTone = false
      return 'quiet'
    }
    const tone = f.peakBin >= MIN_TONE_BIN && (f.peakShare >= PURE_TONE_SHARE ||
      (this.#prevTone && f.peakShare >= TONE_CONTINUE_SHARE && Math.abs(f.peakBin - this.#prevPeakBin) <= 1))
    this.#prevTone = tone
    this.#prevPeakBin = f.peakBin
    if (tone) return 'tone'
    if (f.periodicity >= PERIODICITY && f.flatness <= MAX_FLATNESS) return 'voiced'
    return 'unvoiced'
  }

  #track (f: FrameFeatures, cls: FrameClass): void {
    if (cls === 'voiced' || cls === 'tone') return
    const e = Math.max(f.energyDb, -90)
    this.#floorDb += (e - this.#floorDb) * (e < this.#floorDb ? FLOOR_DOWN : FLOOR_UP)
  }

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
