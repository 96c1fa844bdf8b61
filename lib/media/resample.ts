import { PhoneAgentError } from '../errors.ts'
import { simdKernel } from './resample-simd.ts'

/**
 * Band-limited sample-rate conversion: a Kaiser-windowed sinc evaluated as a polyphase FIR.
 *
 * Dropping samples to go from 16 or 22.05 kHz to 8 kHz folds everything above 4 kHz back onto
 * the speech band (sibilants turn into whistles), so the signal is low-passed at the lower of
 * the two Nyquist frequencies first (two designs, below: one for a phone line, one for
 * upsampling). The kernel is symmetric and centred on each output instant, so there is no
 * delay to compensate.
 */

/** Upsampling: cut-off as a fraction of the source's Nyquist frequency (3.6 kHz from 8 kHz). */
const ROLLOFF = 0.9
/** Upsampling: sinc zero crossings kept on each side of the centre; sets the transition width (~0.2 x cut-off). */
const ZERO_CROSSINGS = 24
/** Upsampling: Kaiser beta for ~80 dB stopband attenuation (Kaiser's formula 0.1102 * (A - 8.7)). */
const KAISER_BETA = 7.86
/**
 * Downsampling (a TTS voice at 16, 22.05, 24 or 48 kHz to a phone line) is designed for the
 * line: the pass band is flat to 0.85 of the target's Nyquist frequency (3.4 kHz at 8 kHz, the
 * telephone band's top edge) and the stop band starts at 1.15 of it (4.6 kHz), the cut-off
 * (-6 dB) sitting on the Nyquist frequency itself. What folds back from between 4 and 4.6 kHz
 * lands between 3.4 and 4 kHz, above the band a phone line carries; everything that could fold
 * into the band is at least DOWN_ATTENUATION_DB down. A transition 0.3 x Nyquist wide instead of
 * the 0.2 x 3.6 kHz the upsampling design keeps needs 88 taps at 24 kHz instead of 160: the
 * reply's resampling was the largest piece of an AI turn's CPU (issue 18, bench/turn-cpu.ts).
 */
const DOWN_TRANSITION = 0.3
/** Stop-band attenuation of the downsampling filter, dB (ripple in the pass band ±0.003 dB). */
const DOWN_ATTENUATION_DB = 70
/** Kaiser's formula for beta at DOWN_ATTENUATION_DB (A > 50 dB): 0.1102 * (A - 8.7). */
const DOWN_BETA = 0.1102 * (DOWN_ATTENUATION_DB - 8.7)
/**
 * Exact polyphase tables are kept up to this many phases (44.1 -> 8 kHz needs 80, 22.05 -> 8
 * needs 160); odd rates beyond it interpolate linearly between neighbouring phases.
 */
const MAX_PHASES = 1024

interface Kernel {
  /** Number of phase rows minus one (the last row is fraction 1.0, for interpolation). */
  readonly phases: number
  readonly halfWidth: number
  /** (phases + 1) rows of 2 * halfWidth taps; tap t applies to input sample i + t - halfWidth + 1. */
  readonly taps: Float64Array
  /** Row 0 folded about its centre: fold[k] is the tap k inputs either side (see decimate()). */
  readonly fold: Float64Array
  /** fold[1..] in single precision, zeros to a multiple of four: the SIMD kernel's taps. */
  readonly fold4: Float32Array
}

const kernels = new Map<string, Kernel>()

function besselI0 (x: number): number {
  // Power series; converges fast for the arguments a Kaiser window uses (x <= beta).
  let sum = 1
  let term = 1
  const q = x * x / 4
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k)
    sum += term
    if (term < sum * 1e-16) break
  }
  return sum
}

function designKernel (fromRate: number, toRate: number, phases: number): Kernel {
  const down = toRate < fromRate
  const cutoff = down ? toRate / 2 : ROLLOFF * fromRate / 2
  // Sinc argument scale in input samples: zero crossings every fromRate / (2 * cutoff) samples.
  const scale = 2 * cutoff / fromRate
  const beta = down ? DOWN_BETA : KAISER_BETA
  // Kaiser's length estimate, N - 1 = (A - 7.95) / (2.285 * transition in radians per input
  // sample); the window spans 2 * halfWidth input samples.
  const halfWidth = down
    ? Math.ceil((DOWN_ATTENUATION_DB - 7.95) / (2.285 * 2 * Math.PI * DOWN_TRANSITION * cutoff / fromRate) / 2)
    : Math.ceil(ZERO_CROSSINGS / scale)
  const width = 2 * halfWidth
  const taps = new Float64Array((phases + 1) * width)
  const i0Beta = besselI0(beta)
  for (let p = 0; p <= phases; p++) {
    const frac = p / phases
    let sum = 0
    for (let t = 0; t < width; t++) {
      const x = t - halfWidth + 1 - frac
      const r = x / halfWidth
      const window = Math.abs(r) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - r * r)) / i0Beta
      const arg = Math.PI * scale * x
      const sinc = arg === 0 ? 1 : Math.sin(arg) / arg
      const h = scale * sinc * window
      taps[p * width + t] = h
      sum += h
    }
    // Exact unity gain at DC for every phase; otherwise the tiny per-phase gain differences
    // modulate a constant signal into a tone at the phase-cycle rate.
    for (let t = 0; t < width; t++) taps[p * width + t] = (taps[p * width + t] ?? 0) / sum
  }
  // Row 0's last tap (x = halfWidth, the window's edge) is zero: fold stops one short of it.
  const fold = taps.slice(halfWidth - 1, width - 1)
  const fold4 = new Float32Array(4 * Math.ceil((fold.length - 1) / 4))
  fold4.set(fold.subarray(1))
  return { phases, halfWidth, taps, fold, fold4 }
}

function gcd (a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

function checkRate (rate: number): void {
  if (!Number.isInteger(rate) || rate < 1000 || rate > 384_000) {
    throw new PhoneAgentError('MEDIA_INVALID', `resample: unsupported sample rate ${rate}`)
  }
}

/** The polyphase filter for one rate pair, shared with the streaming resampler (resample-stream.ts). */
export interface ResampleKernel extends Kernel {
  /** Output j sits at input position j * down / up. */
  readonly up: number
  readonly down: number
  /** True when there is one phase row per output phase (no interpolation between rows). */
  readonly exact: boolean
}

/** The (cached) kernel for `fromRate` -> `toRate`; the rates must differ. */
export function resampleKernel (fromRate: number, toRate: number): ResampleKernel {
  checkRate(fromRate)
  checkRate(toRate)
  const g = gcd(fromRate, toRate)
  const up = toRate / g
  const down = fromRate / g
  const phases = Math.min(up, MAX_PHASES)
  const key = `${fromRate}:${toRate}`
  let kernel = kernels.get(key)
  if (kernel === undefined) {
    kernel = designKernel(fromRate, toRate, phases)
    kernels.set(key, kernel)
  }
  return { ...kernel, up, down, exact: phases === up }
}

/**
 * `count` outputs of an integer decimation (up = 1: 16, 24, 32, 48 kHz -> 8 kHz, the common TTS
 * rates) into `out` from `outAt`: the first centred on input `centre`, each next `down` inputs
 * later. Input `a` is `x[a - xBase]`; inputs before 0 or from `total` on are zeros. Row 0 of the
 * kernel is symmetric about its centre tap (the window and the sinc are even), so `fold[k]` is
 * the tap k inputs either side and each pair at the same distance is added (exactly, in
 * integers) before one multiplication: half the multiplications of the plain dot product. Only
 * the kept outputs are computed, those whose window lies inside the signal by the SIMD kernel
 * (resample-simd.ts) where there is one. resample() and the streaming resampler both call this,
 * so they stay equal sample for sample.
 */
export function decimate (x: Int16Array, xBase: number, centre: number, total: number, kernel: ResampleKernel, out: Int16Array, outAt: number, count: number): void {
  const { down, fold } = kernel
  const c = fold.length - 1
  // Outputs [inFrom, inTo) have every input of their window: centre + o * down - c >= 0 and
  // centre + o * down + c < total.
  const inFrom = Math.min(count, Math.max(0, Math.ceil((c - centre) / down)))
  const inTo = Math.max(inFrom, Math.min(count, Math.ceil((total - c - centre) / down)))
  for (let o = 0; o < count; o++) {
    if (o === inFrom) o = inTo
    if (o === count) break
    const v = Math.round(foldedSum(padded(x, xBase, centre + o * down, total, c), c, fold))
    out[outAt + o] = v > 32767 ? 32767 : v < -32768 ? -32768 : v
  }
  if (inTo === inFrom) return
  const simd = simdKernel()
  if (simd !== undefined) {
    simd.run(x, centre + inFrom * down - xBase, down, kernel.fold4, fold[0] as number, out, outAt + inFrom, inTo - inFrom)
    return
  }
  for (let o = inFrom, at = centre + inFrom * down - xBase; o < inTo; o++, at += down) {
    // foldedSum() written out: this loop is the whole cost of a TTS reply's resampling.
    let s = (fold[0] as number) * (x[at] as number)
    for (let k = 1; k <= c; k++) s += (fold[k] as number) * ((x[at - k] as number) + (x[at + k] as number))
    const v = Math.round(s)
    out[outAt + o] = v > 32767 ? 32767 : v < -32768 ? -32768 : v
  }
}

function foldedSum (x: Int16Array, at: number, fold: Float64Array): number {
  let s = (fold[0] as number) * (x[at] as number)
  for (let k = 1; k < fold.length; k++) s += (fold[k] as number) * ((x[at - k] as number) + (x[at + k] as number))
  return s
}

/** The 2c + 1 inputs around `centre`, zeros where the signal has none (its two ends). */
function padded (x: Int16Array, xBase: number, centre: number, total: number, c: number): Int16Array {
  const out = new Int16Array(2 * c + 1)
  for (let a = Math.max(0, centre - c); a <= centre + c && a < total; a++) out[a - centre + c] = x[a - xBase] as number
  return out
}

/** Resample mono 16-bit samples. Output length is ceil(input * toRate / fromRate). */
export function resample (samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  checkRate(fromRate)
  checkRate(toRate)
  if (fromRate === toRate) return samples.slice()
  const kernel = resampleKernel(fromRate, toRate)
  const { halfWidth, taps, up, down, exact, phases } = kernel
  const width = 2 * halfWidth
  const n = samples.length
  const outLength = Math.ceil(n * up / down)
  const out = new Int16Array(outLength)
  if (up === 1) {
    decimate(samples, 0, 0, n, kernel, out, 0, outLength)
    return out
  }
  for (let j = 0; j < outLength; j++) {
    // Output j sits at input position j * down / up = i + p / up.
    const num = j * down
    const i = Math.floor(num / up)
    const p = num - i * up
    const first = i - halfWidth + 1
    const tStart = Math.max(0, -first)
    const tEnd = Math.min(width, n - first)
    let acc = 0
    if (exact) {
      const row = p * width
      for (let t = tStart; t < tEnd; t++) acc += (samples[first + t] ?? 0) * (taps[row + t] ?? 0)
    } else {
      const pos = p * phases / up
      const row0 = Math.floor(pos)
      const w = pos - row0
      const a = row0 * width
      const b = a + width
      for (let t = tStart; t < tEnd; t++) {
        const h = (taps[a + t] ?? 0) * (1 - w) + (taps[b + t] ?? 0) * w
        acc += (samples[first + t] ?? 0) * h
      }
    }
    const v = Math.round(acc)
    out[j] = v > 32767 ? 32767 : v < -32768 ? -32768 : v
  }
  return out
}
