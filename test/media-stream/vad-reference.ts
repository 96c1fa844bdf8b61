/**
 * The classic detector's frame classifier as it was before its hot path was made cheaper
 * (lib/media/vad/features.ts and classify.ts at commit 3b232cf), kept verbatim as a reference:
 * test/media-stream/vad-identical.spec.ts checks that today's classifier classes every frame
 * the same, and bench/vad-cost.ts measures both on the same machine in the same run.
 */
import type { FrameClass, FrameVerdict } from '../../lib/media/vad/classify.ts'

const ANALYSIS_RATE = 8000
const FRAME = 160
const FFT_SIZE = 256
const LOG2_FFT = 8
const BAND_LO = Math.ceil(100 / (ANALYSIS_RATE / FFT_SIZE)) // 100 Hz
const BAND_HI = Math.floor(3800 / (ANALYSIS_RATE / FFT_SIZE)) // 3.8 kHz
const PEAK_HALF_WIDTH = 2 // a Hann main lobe spans +-2 bins
const LAG_MIN = 20 // 400 Hz
const LAG_MAX = 100 // 80 Hz

interface FrameFeatures {
  /** Mean power in dB relative to full scale (a full-scale sine is -3 dBFS). */
  readonly energyDb: number
  /** 0..1: share of band power in the two strongest peaks (tones -> ~1). */
  readonly peakShare: number
  /** 0..1: spectral flatness in the band (white noise ~0.5, speech and tones low). */
  readonly flatness: number
  /** 0..1: best normalised autocorrelation over pitch lags (voiced speech high). */
  readonly periodicity: number
  /** Strongest in-band FFT bin (31.25 Hz each): a tone keeps it from frame to frame. */
  readonly peakBin: number
}

const HANN = Float64Array.from({ length: FRAME }, (_, i) => 0.5 - 0.5 * Math.cos(2 * Math.PI * (i + 0.5) / FRAME))
const COS = Float64Array.from({ length: FFT_SIZE / 2 }, (_, i) => Math.cos(2 * Math.PI * i / FFT_SIZE))
const SIN = Float64Array.from({ length: FFT_SIZE / 2 }, (_, i) => -Math.sin(2 * Math.PI * i / FFT_SIZE))
const BITREV = Uint16Array.from({ length: FFT_SIZE }, (_, i) => {
  let r = 0
  for (let b = 0; b < LOG2_FFT; b++) r |= ((i >> b) & 1) << (LOG2_FFT - 1 - b)
  return r
})

/**
 * Stateful per call: keeps the previous frame for the 40 ms periodicity window and scratch
 * buffers so a frame costs no allocation (about 5 KB per call).
 */
class ReferenceExtractor {
  readonly #rate: number
  readonly #history = new Float64Array(FRAME * 2)
  readonly #re = new Float64Array(FFT_SIZE)
  readonly #im = new Float64Array(FFT_SIZE)
  readonly #power = new Float64Array(FFT_SIZE / 2 + 1)
  #prevOdd = 0

  constructor (rate: number) {
    this.#rate = rate
  }

  /**
   * Frame of 20 ms at the extractor's rate (8 or 16 kHz); shorter frames are zero-padded.
   * Below `gateDb` only the energy is measured: the spectral work is skipped for the quiet
   * frames that make up most of a call.
   */
  measure (samples: Int16Array, gateDb = -Infinity): FrameFeatures {
    const h = this.#history
    h.copyWithin(0, FRAME)
    this.#decimateInto(samples, h, FRAME)
    let sum = 0
    for (let i = FRAME; i < 2 * FRAME; i++) sum += (h[i] as number) * (h[i] as number)
    const energyDb = 10 * Math.log10(sum / FRAME / (32768 * 32768) + 1e-12)
    if (sum === 0 || energyDb < gateDb) return { energyDb, peakShare: 0, flatness: 0, periodicity: 0, peakBin: 0 }
    const { peakShare, flatness, peakBin } = this.#spectrum()
    return { energyDb, peakShare, flatness, peakBin, periodicity: this.#periodicity() }
  }

  #decimateInto (samples: Int16Array, into: Float64Array, offset: number): void {
    if (this.#rate === ANALYSIS_RATE) {
      for (let i = 0; i < FRAME; i++) into[offset + i] = samples[i] ?? 0
      return
    }
    // 16 kHz -> 8 kHz: a [1 2 1]/4 low-pass before dropping every other sample. Crude, but the
    // features only need the telephone band, and aliasing of 4-8 kHz energy is attenuated.
    let prev = this.#prevOdd
    for (let i = 0; i < FRAME; i++) {
      const a = samples[2 * i] ?? 0
      const b = samples[2 * i + 1] ?? 0
      into[offset + i] = (prev + 2 * a + b) / 4
      prev = b
    }
    this.#prevOdd = prev
  }

  #spectrum (): { peakShare: number, flatness: number, peakBin: number } {
    const re = this.#re
    const im = this.#im
    const h = this.#history
    for (let i = 0; i < FFT_SIZE; i++) {
      const j = BITREV[i] as number
      re[j] = i < FRAME ? (h[FRAME + i] as number) * (HANN[i] as number) : 0
      im[j] = 0
    }
    for (let size = 2; size <= FFT_SIZE; size <<= 1) {
      const half = size >> 1
      const step = FFT_SIZE / size
      for (let start = 0; start < FFT_SIZE; start += size) {
        for (let k = 0; k < half; k++) {
          const c = COS[k * step] as number
          const s = SIN[k * step] as number
          const a = start + k
          const b = a + half
          const tr = (re[b] as number) * c - (im[b] as number) * s
          const ti = (re[b] as number) * s + (im[b] as number) * c
          re[b] = (re[a] as number) - tr
          im[b] = (im[a] as number) - ti
          re[a] = (re[a] as number) + tr
          im[a] = (im[a] as number) + ti
        }
      }
    }
    const p = this.#power
    let total = 0
    let logSum = 0
    let top = BAND_LO
    for (let k = BAND_LO; k <= BAND_HI; k++) {
      const v = (re[k] as number) ** 2 + (im[k] as number) ** 2 + 1e-3
      p[k] = v
      total += v
      logSum += Math.log(v)
      if (v > (p[top] as number)) top = k
    }
    const bins = BAND_HI - BAND_LO + 1
    const flatness = Math.exp(logSum / bins) / (total / bins)
    const first = lobe(p, top)
    let second = -1
    for (let k = BAND_LO; k <= BAND_HI; k++) {
      if (Math.abs(k - top) <= 2 * PEAK_HALF_WIDTH) continue
      if (second < 0 || (p[k] as number) > (p[second] as number)) second = k
    }
    const peak = first + (second < 0 ? 0 : lobe(p, second))
    return { peakShare: Math.min(1, peak / total), flatness, peakBin: top }
  }

  #periodicity (): number {
    const h = this.#history
    const n = h.length
    let best = 0
    for (let lag = LAG_MIN; lag <= LAG_MAX; lag++) {
      let xy = 0
      let xx = 0
      let yy = 0
      for (let i = 0; i + lag < n; i++) {
        const x = h[i] as number
        const y = h[i + lag] as number
        xy += x * y
        xx += x * x
        yy += y * y
      }
      if (xx > 0 && yy > 0) {
        const r = xy / Math.sqrt(xx * yy)
        if (r > best) best = r
      }
    }
    return best
  }
}

function lobe (p: Float64Array, centre: number): number {
  let sum = 0
  // Overlap with the first lobe is excluded by the caller's +-2*half-width skip.
  for (let k = Math.max(BAND_LO, centre - PEAK_HALF_WIDTH); k <= Math.min(BAND_HI, centre + PEAK_HALF_WIDTH); k++) sum += p[k] as number
  return sum
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

export class ReferenceClassifier {
  readonly #extractor: ReferenceExtractor
  readonly #minEnergyDb: number
  readonly #snrDb: number
  #floorDb = FLOOR_START_DB
  #prevTone = false
  #prevPeakBin = -1

  constructor (options: { rate: number, minEnergyDb?: number | undefined, snrDb?: number | undefined }) {
    this.#extractor = new ReferenceExtractor(options.rate)
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
