import { FeatureExtractor, type FrameFeatures } from './features.ts'

/**
 * The classic detector's per-frame verdict, shared by both engines: the classic detector
 * decides speech from it, the Silero engine uses it as a cheap gate (quiet frames never reach
 * the model) and a tone veto (tones never count as speech, whatever the model says).
 *
 * - `quiet`: below `minEnergyDb`, or less than `snrDb` above the tracked noise floor;
 * - `tone`: a pure tone or tone pair above 310 Hz (ringback, busy, DTMF): almost all power in
 *   two spectral peaks, or a slightly less pure frame continuing a tone at the same frequency
 *   (the 40 Hz beat of 440+480 Hz ringback dips within a frame);
 * - `voiced`: periodic at a pitch between 80 and 400 Hz and not noise-flat: the evidence of speech;
 * - `unvoiced`: loud but neither (fricatives, noise, coughs, clicks).
 *
 * The noise floor follows the quiet and unvoiced frames: down at once, up over seconds, so
 * steady line noise stops counting as loud.
 */

export type FrameClass = 'quiet' | 'tone' | 'voiced' | 'unvoiced'

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
const FLOOR_START_DB = -65
const FLOOR_DOWN = 0.3
const FLOOR_UP = 0.01

export class FrameClassifier {
  readonly #extractor: FeatureExtractor
  readonly #minEnergyDb: number
  readonly #snrDb: number
  #floorDb = FLOOR_START_DB
  #prevTone = false
  #prevPeakBin = -1

  constructor (options: { rate: number, minEnergyDb?: number | undefined, snrDb?: number | undefined }) {
    this.#extractor = new FeatureExtractor(options.rate)
    this.#minEnergyDb = options.minEnergyDb ?? -45
    this.#snrDb = options.snrDb ?? 9
  }

  /** Measure and class one 20 ms frame, and move the noise floor. */
  classify (samples: Int16Array): FrameVerdict {
    // Below minEnergyDb only the energy is measured: most of a call is quiet and costs little.
    const f = this.#extractor.measure(samples, this.#minEnergyDb)
    const cls = this.#class(f)
    const verdict = { ...f, class: cls, floorDb: this.#floorDb }
    if (cls !== 'voiced' && cls !== 'tone') {
      const e = Math.max(f.energyDb, -90)
      this.#floorDb += (e - this.#floorDb) * (e < this.#floorDb ? FLOOR_DOWN : FLOOR_UP)
    }
    return verdict
  }

  #class (f: FrameFeatures): FrameClass {
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
}
