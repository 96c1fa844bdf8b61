import { PhoneAgentError } from '../errors.ts'

/**
 * Band-limited sample-rate conversion: a Kaiser-windowed sinc evaluated as a polyphase FIR.
 *
 * Dropping samples to go from 16 or 22.05 kHz to 8 kHz folds everything above 4 kHz back onto
 * the speech band (sibilants turn into whistles), so the signal is low-passed below the lower
 * of the two Nyquist frequencies first. The kernel is symmetric and centred on each output
 * instant, so there is no delay to compensate.
 */

/** Cut-off as a fraction of the lower Nyquist frequency: 3.6 kHz for 8 kHz telephony. */
const ROLLOFF = 0.9
/** Sinc zero crossings kept on each side of the centre; sets the transition width (~0.2 x cut-off). */
const ZERO_CROSSINGS = 24
/** Kaiser beta for ~80 dB stopband attenuation (Kaiser's formula 0.1102 * (A - 8.7)). */
const KAISER_BETA = 7.86
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
  const cutoff = ROLLOFF * Math.min(fromRate, toRate) / 2
  // Sinc argument scale in input samples: zero crossings every fromRate / (2 * cutoff) samples.
  const scale = 2 * cutoff / fromRate
  const halfWidth = Math.ceil(ZERO_CROSSINGS / scale)
  const width = 2 * halfWidth
  const taps = new Float64Array((phases + 1) * width)
  const i0Beta = besselI0(KAISER_BETA)
  for (let p = 0; p <= phases; p++) {
    const frac = p / phases
    let sum = 0
    for (let t = 0; t < width; t++) {
      const x = t - halfWidth + 1 - frac
      const r = x / halfWidth
      const window = Math.abs(r) >= 1 ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta
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
  return { phases, halfWidth, taps }
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
 * One output of an integer decimation (up = 1: 16, 24, 32, 48 kHz -> 8 kHz, the common TTS
 * rates), centred on input `centre`: input `a` is `x[a - xBase]`, inputs before 0 or from
 * `total` on are zeros. Row 0 of the kernel is symmetric about its centre tap (halfWidth - 1:
 * the window and the sinc are even in x) and its last tap is zero (x = halfWidth, the window's
 * edge), so each pair of inputs at the same distance is added (exactly, in integers) before
 * one multiplication: half the multiplications of the plain dot product, and two partial sums
 * so the additions do not wait on each other. A TTS reply at 24 kHz costs about 40 % less CPU
 * (issue 18; bench/turn-cpu.ts). The sum's rounding differs from the plain dot product's by far
 * less than one output step; resample() and the streaming resampler both call this, so they
 * stay equal sample for sample.
 */
export function decimateAt (x: Int16Array, xBase: number, centre: number, total: number, taps: Float64Array, halfWidth: number): number {
  const c = halfWidth - 1
  if (centre - c < 0 || centre + c >= total) return foldedSum(padded(x, xBase, centre, total, c), c, taps, c)
  return foldedSum(x, centre - xBase, taps, c)
}

function foldedSum (x: Int16Array, at: number, taps: Float64Array, c: number): number {
  let even = (taps[c] as number) * (x[at] as number)
  let odd = 0
  let k = 1
  for (; k < c; k += 2) {
    odd += (taps[c - k] as number) * ((x[at - k] as number) + (x[at + k] as number))
    even += (taps[c - k - 1] as number) * ((x[at - k - 1] as number) + (x[at + k + 1] as number))
  }
  if (k === c) odd += (taps[0] as number) * ((x[at - c] as number) + (x[at + c] as number))
  return even + odd
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
  const { halfWidth, taps, up, down, exact, phases } = resampleKernel(fromRate, toRate)
  const width = 2 * halfWidth
  const n = samples.length
  const outLength = Math.ceil(n * up / down)
  const out = new Int16Array(outLength)
  for (let j = 0; j < outLength; j++) {
    // Output j sits at input position j * down / up = i + p / up.
    if (up === 1) {
      const v = Math.round(decimateAt(samples, 0, j * down, n, taps, halfWidth))
      out[j] = v > 32767 ? 32767 : v < -32768 ? -32768 : v
      continue
    }
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
