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

type MutableVerdict = { -readonly [K in keyof FrameVerdict]: FrameVerdict[K] }

export class FrameClassifier {
  readonly #extractor: FeatureExtractor
  readonly #minEnergyDb: number
  readonly #snrDb: number
  #floorDb = FLOOR_START_DB
  #prevTone = false
  #prevPeakBin = -1
  /** The verdict, rewritten in place every frame: classifying a frame allocates nothing. */
  readonly #verdict: MutableVerdict = { energyDb: 0, peakShare: 0, flatness: 0, periodicity: 0, peakBin: 0, class: 'quiet', floorDb: FLOOR_START_DB }

  constructor (options: { rate: number, minEnergyDb?: number | undefined, snrDb?: number | undefined }) {
    this.#extractor = new FeatureExtractor(options.rate)
    this.#minEnergyDb = options.minEnergyDb ?? -45
    this.#snrDb = options.snrDb ?? 9
  }

  /**
   * Measure and class one 20 ms frame, and move the noise floor. The returned verdict is this
   * classifier's own object, valid until the next frame (read it, do not keep it).
   *
   * Each feature is computed only when the class depends on it: a quiet frame (most of a call)
   * costs its energy alone, a tone or a noise-flat frame skips the periodicity search, and
   * a voiced frame stops it at the first pitch lag that proves voicing (so its periodicity
   * reads at least the threshold, not necessarily the best). A feature not computed reads 0.
   */
  classify (samples: Int16Array): FrameVerdict {
    const x = this.#extractor
    const v = this.#verdict
    const energyDb = x.load(samples)
    v.energyDb = energyDb
    v.floorDb = this.#floorDb
    v.peakShare = 0
    v.flatness = 0
    v.periodicity = 0
    v.peakBin = 0
    let cls: FrameClass
    if (x.silent || energyDb < this.#minEnergyDb || energyDb < this.#floorDb + this.#snrDb) {
      this.#prevTone = false
      cls = 'quiet'
    } else {
      x.spectrum(v)
      const tone = v.peakBin >= MIN_TONE_BIN && (v.peakShare >= PURE_TONE_SHARE ||
        (this.#prevTone && v.peakShare >= TONE_CONTINUE_SHARE && Math.abs(v.peakBin - this.#prevPeakBin) <= 1))
      this.#prevTone = tone
      this.#prevPeakBin = v.peakBin
      if (tone) {
        cls = 'tone'
      } else if (v.flatness <= MAX_FLATNESS) {
        v.periodicity = x.periodicityReaches(PERIODICITY)
        cls = v.periodicity >= PERIODICITY ? 'voiced' : 'unvoiced'
      } else {
        cls = 'unvoiced'
      }
    }
    v.class = cls
    if (cls !== 'voiced' && cls !== 'tone') {
      const e = Math.max(energyDb, -90)
      this.#floorDb += (e - this.#floorDb) * (e < this.#floorDb ? FLOOR_DOWN : FLOOR_UP)
    }
    return v
  }
}
