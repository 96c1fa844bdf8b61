/**
 * Per-frame measurements the speech gate decides on, computed at 8 kHz (wideband frames are
 * decimated first: the telephone band is where speech and the tones we must ignore live).
 *
 * - energy in dBFS, against a tracked noise floor;
 * - spectral peak concentration: the share of in-band power in the two strongest spectral
 *   peaks. Call-progress tones (425 Hz, 440+480 Hz, 400+450 Hz) and DTMF pairs put nearly
 *   all their power there; voiced speech spreads it over many harmonics and formants;
 * - spectral flatness (geometric over arithmetic mean power): near 0.5 for white noise
 *   with a periodogram, far lower for speech;
 * - periodicity: the best normalised autocorrelation over pitch lags 80-400 Hz across the last
 *   40 ms. Voiced speech is periodic; noise, clicks and coughs are not.
 */

export const ANALYSIS_RATE = 8000
const FRAME = 160
const FFT_SIZE = 256
const LOG2_FFT = 8
const BAND_LO = Math.ceil(100 / (ANALYSIS_RATE / FFT_SIZE)) // 100 Hz
const BAND_HI = Math.floor(3800 / (ANALYSIS_RATE / FFT_SIZE)) // 3.8 kHz
const PEAK_HALF_WIDTH = 2 // a Hann main lobe spans +-2 bins
const LAG_MIN = 20 // 400 Hz
const LAG_MAX = 100 // 80 Hz
/** Bins whose powers are multiplied before one log is taken, for the flatness (spectrum()). */
const LOG_GROUP = 16

export interface FrameFeatures {
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
/** The packed complex FFT's size (the real frame's even and odd samples), and its bit reversal. */
const HALF = FFT_SIZE / 2
const BITREV_HALF = Uint16Array.from({ length: HALF }, (_, i) => {
  let r = 0
  for (let b = 0; b < LOG2_FFT - 1; b++) r |= ((i >> b) & 1) << (LOG2_FFT - 2 - b)
  return r
})

/**
 * Scratch of the spectrum and periodicity work, shared by every extractor: each use fills what
 * it reads within one call, and JavaScript runs one call at a time (~7 KB a call saved).
 */
const RE = new Float64Array(HALF)
const IM = new Float64Array(HALF)
const POWER = new Float64Array(FFT_SIZE / 2 + 1)
/** Running sums of squares over the 40 ms window: energies of every lag window without a loop each. */
const SQUARES = new Float64Array(FRAME * 2 + 1)
const WINDOW = new Float64Array(FRAME * 2)

/**
 * Stateful per call: keeps the previous frame for the 40 ms periodicity window, so a frame costs
 * no allocation (1.3 KB per call). A frame is decimated into one of two halves that swap: no
 * copy of the window per frame; the window is put together only when periodicity needs it.
 * The halves are 32-bit floats, exact: a sample at 8 kHz is an integer within 16 bits, at
 * 16 kHz a quarter within 17 (the decimator's [1 2 1]/4), well inside a float's 24-bit mantissa,
 * so every value read back is the double the frame gave.
 *
 * The work is split so a caller pays only for what it asks: `load` (energy) on every frame,
 * `spectrum` for frames loud enough to matter, `periodicity` (the costliest: 81 lags) only for
 * frames that could be voiced. `measure` does all three, as one call.
 */
export class FeatureExtractor {
  readonly #rate: number
  /** The frame last loaded, and the one before it (two halves of one buffer). */
  #cur: Float32Array
  #prev: Float32Array
  #prevOdd = 0
  #sum = 0
  /** The lag that won the last periodicity search: where the next one starts. */
  #lastLag = LAG_MIN

  constructor (rate: number) {
    this.#rate = rate
    const halves = new Float32Array(2 * FRAME)
    this.#cur = halves.subarray(0, FRAME)
    this.#prev = halves.subarray(FRAME)
  }

  /**
   * Frame of 20 ms at the extractor's rate (8 or 16 kHz); shorter frames are zero-padded.
   * Below `gateDb` only the energy is measured: the spectral work is skipped for the quiet
   * frames that make up most of a call.
   */
  measure (samples: Int16Array, gateDb = -Infinity): FrameFeatures {
    const energyDb = this.load(samples)
    if (this.silent || energyDb < gateDb) return { energyDb, peakShare: 0, flatness: 0, periodicity: 0, peakBin: 0 }
    const spectrum = { peakShare: 0, flatness: 0, peakBin: 0 }
    this.spectrum(spectrum)
    return { energyDb, ...spectrum, periodicity: this.periodicity() }
  }

  /** Take the next frame into the 40 ms window; its level in dBFS. */
  load (samples: Int16Array): number {
    const h = this.#prev
    this.#prev = this.#cur
    this.#cur = h
    const sum = this.#decimateInto(samples, h)
    this.#sum = sum
    return 10 * Math.log10(sum / FRAME / (32768 * 32768) + 1e-12)
  }

  /** The frame last loaded is digital silence. */
  get silent (): boolean { return this.#sum === 0 }

  /** The frame at 8 kHz into `into`; returns its sum of squares (in the same pass, exact: the one-sum loop's to the bit). */
  #decimateInto (samples: Int16Array, into: Float32Array): number {
    if (this.#rate === ANALYSIS_RATE) {
      // Four running sums (one waits for each add before the next): exact in any order, as in
      // dot(): squares of 16-bit integers, 160 of them, stay far below 2^53.
      const n = Math.min(samples.length, FRAME)
      let a = 0
      let b = 0
      let c = 0
      let d = 0
      let i = 0
      for (; i + 3 < n; i += 4) {
        const v0 = samples[i] as number
        const v1 = samples[i + 1] as number
        const v2 = samples[i + 2] as number
        const v3 = samples[i + 3] as number
        into[i] = v0
        into[i + 1] = v1
        into[i + 2] = v2
        into[i + 3] = v3
        a += v0 * v0
        b += v1 * v1
        c += v2 * v2
        d += v3 * v3
      }
      for (; i < n; i++) {
        const v = samples[i] as number
        into[i] = v
        a += v * v
      }
      // A short frame is zero-padded.
      if (n < FRAME) into.fill(0, n)
      return (a + b) + (c + d)
    }
    // 16 kHz -> 8 kHz: a [1 2 1]/4 low-pass before dropping every other sample. Crude, but the
    // features only need the telephone band, and aliasing of 4-8 kHz energy is attenuated.
    // Two running sums, exact in any order too: the squares are sixteenths below 2^32, 160 of
    // them far below 2^53 sixteenths.
    let prev = this.#prevOdd
    let even = 0
    let odd = 0
    for (let i = 0; i < FRAME; i += 2) {
      const a0 = samples[2 * i] ?? 0
      const b0 = samples[2 * i + 1] ?? 0
      const a1 = samples[2 * i + 2] ?? 0
      const b1 = samples[2 * i + 3] ?? 0
      const v0 = (prev + 2 * a0 + b0) / 4
      const v1 = (b0 + 2 * a1 + b1) / 4
      into[i] = v0
      into[i + 1] = v1
      even += v0 * v0
      odd += v1 * v1
      prev = b1
    }
    this.#prevOdd = prev
    return even + odd
  }

  /**
   * Peak share, flatness and peak bin of the frame last loaded, written into `out`.
   *
   * The 256-point spectrum of a real frame is taken as a 128-point complex FFT of its even
   * samples (the real parts) and odd ones (the imaginary parts), then split into the two halves'
   * spectra and joined with one twiddle per bin (the standard real-input FFT): half the
   * butterflies of a complex FFT of the real frame. Each bin's power differs from that FFT's
   * by rounding alone (a few units in the last place; test/media-stream/vad-identical.spec.ts).
   */
  spectrum (out: { peakShare: number, flatness: number, peakBin: number }): void {
    const re = RE
    const im = IM
    const h = this.#cur
    // The first butterfly stage fused with the bit-reversed load: slots 2m and 2m + 1 hold the
    // complex samples r and r + 64 (samples 2r, 2r + 1 and 2r + 128, 2r + 129), twiddle 1.
    for (let m = 0; m < HALF; m += 2) {
      const r = BITREV_HALF[m] as number
      const i0 = 2 * r
      const i1 = i0 + HALF
      const ar = i0 < FRAME ? (h[i0] as number) * (HANN[i0] as number) : 0
      const ai = i0 + 1 < FRAME ? (h[i0 + 1] as number) * (HANN[i0 + 1] as number) : 0
      const br = i1 < FRAME ? (h[i1] as number) * (HANN[i1] as number) : 0
      const bi = i1 + 1 < FRAME ? (h[i1 + 1] as number) * (HANN[i1 + 1] as number) : 0
      re[m] = ar + br
      im[m] = ai + bi
      re[m + 1] = ar - br
      im[m + 1] = ai - bi
    }
    // One twiddle per k for all its butterflies; the 256-point tables serve (every other entry).
    for (let size = 4; size <= HALF; size <<= 1) {
      const half = size >> 1
      const step = FFT_SIZE / size
      for (let k = 0; k < half; k++) {
        const c = COS[k * step] as number
        const s = SIN[k * step] as number
        for (let a = k; a < HALF; a += size) {
          const b = a + half
          const rb = re[b] as number
          const ib = im[b] as number
          const tr = rb * c - ib * s
          const ti = rb * s + ib * c
          const ra = re[a] as number
          const ia = im[a] as number
          re[b] = ra - tr
          im[b] = ia - ti
          re[a] = ra + tr
          im[a] = ia + ti
        }
      }
    }
    const p = POWER
    let total = 0
    let logSum = 0
    let top = BAND_LO
    // The sum of the bins' logs as the log of their product, taken every LOG_GROUP bins: a bin's
    // power is 1e-3 to ~2^46, so a product of 16 stays within a double's range (2^-160 to 2^736).
    let product = 1
    let grouped = 0
    for (let k = BAND_LO; k <= BAND_HI; k++) {
      // Bin k of the real frame from bins k and 128 - k of the packed one (0 < k < 128): the
      // even samples' spectrum E and the odd ones' O, then E + e^(-2 pi i k / 256) O.
      const zr = re[k] as number
      const zi = im[k] as number
      const yr = re[HALF - k] as number
      const yi = im[HALF - k] as number
      const er = (zr + yr) / 2
      const ei = (zi - yi) / 2
      const or = (zi + yi) / 2
      const oi = (yr - zr) / 2
      const c = COS[k] as number
      const sn = SIN[k] as number
      const xr = er + or * c - oi * sn
      const xi = ei + oi * c + or * sn
      const v = xr * xr + xi * xi + 1e-3
      p[k] = v
      total += v
      product *= v
      if (++grouped === LOG_GROUP) {
        logSum += Math.log(product)
        product = 1
        grouped = 0
      }
      if (v > (p[top] as number)) top = k
    }
    logSum += Math.log(product)
    const bins = BAND_HI - BAND_LO + 1
    const flatness = Math.exp(logSum / bins) / (total / bins)
    const first = lobe(p, top)
    let second = -1
    for (let k = BAND_LO; k <= BAND_HI; k++) {
      if (Math.abs(k - top) <= 2 * PEAK_HALF_WIDTH) continue
      if (second < 0 || (p[k] as number) > (p[second] as number)) second = k
    }
    const peak = first + (second < 0 ? 0 : lobe(p, second))
    out.peakShare = Math.min(1, peak / total)
    out.flatness = flatness
    out.peakBin = top
  }

  /**
   * Periodicity of the 40 ms window ending with the frame last loaded: the best correlation.
   * The energies of each lag's two windows come from running sums of squares, so each lag
   * costs one product per sample instead of three. Exact, not an approximation: the samples are integers (quarters
   * at 16 kHz), so every sum here is exact in a double and the order of summation cannot change
   * a result.
   */
  periodicity (): number {
    return this.#search(Infinity)
  }

  /**
   * Whether the window is periodic enough: a correlation at or above `threshold` if one exists
   * (the search stops at the first lag that reaches it), else the best one, exactly as
   * `periodicity` finds it. The search starts at the lag that won last time and moves outward:
   * a voice's pitch changes little from frame to frame, so a voiced frame is usually settled
   * after a lag or two instead of 81. The answer to "is it at least `threshold`?" is the same
   * as from the full search; only the value reported for a voiced frame may be lower than the best.
   */
  periodicityReaches (threshold: number): number {
    return this.#search(threshold)
  }

  #search (threshold: number): number {
    const h = WINDOW
    h.set(this.#prev, 0)
    h.set(this.#cur, FRAME)
    const n = h.length
    const sq = SQUARES
    sq[0] = 0
    for (let i = 0; i < n; i++) sq[i + 1] = (sq[i] as number) + (h[i] as number) * (h[i] as number)
    const total = sq[n] as number
    let best = 0
    let bestLag = this.#lastLag
    const start = this.#lastLag
    for (let step = 0; step <= LAG_MAX - LAG_MIN; step++) {
      // start, start + 1, start - 1, start + 2, ... within [LAG_MIN, LAG_MAX], each lag once.
      for (let side = 0; side < (step === 0 ? 1 : 2); side++) {
        const lag = side === 0 ? start + step : start - step
        if (lag < LAG_MIN || lag > LAG_MAX) continue
        const m = n - lag
        const xy = dot(h, lag, m)
        const xx = sq[m] as number
        const yy = total - (sq[lag] as number)
        if (xx > 0 && yy > 0) {
          const r = xy / Math.sqrt(xx * yy)
          if (r > best) { best = r; bestLag = lag }
          if (r >= threshold) { this.#lastLag = lag; return r }
        }
      }
    }
    this.#lastLag = bestLag
    return best
  }
}

/**
 * Sum of h[i] * h[i + lag] for i below m, in four running sums the CPU can add in parallel
 * (one sum waits for each add before the next). Exact in any order: the samples are integers
 * (quarters at 16 kHz), a product is below 2^30 and a sum of 320 of them below 2^39, so every
 * partial sum is a double without rounding and the result is the one-sum loop's to the bit.
 */
function dot (h: Float64Array, lag: number, m: number): number {
  let a = 0
  let b = 0
  let c = 0
  let d = 0
  let i = 0
  for (; i + 3 < m; i += 4) {
    a += (h[i] as number) * (h[i + lag] as number)
    b += (h[i + 1] as number) * (h[i + 1 + lag] as number)
    c += (h[i + 2] as number) * (h[i + 2 + lag] as number)
    d += (h[i + 3] as number) * (h[i + 3 + lag] as number)
  }
  for (; i < m; i++) a += (h[i] as number) * (h[i + lag] as number)
  return (a + b) + (c + d)
}

function lobe (p: Float64Array, centre: number): number {
  let sum = 0
  // Overlap with the first lobe is excluded by the caller's +-2*half-width skip.
  for (let k = Math.max(BAND_LO, centre - PEAK_HALF_WIDTH); k <= Math.min(BAND_HI, centre + PEAK_HALF_WIDTH); k++) sum += p[k] as number
  return sum
}
