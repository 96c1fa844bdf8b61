import type { CallerEcho } from './types.ts'

/**
 * The echo of a real phone line, as the caller's RTP carries it back to us: what the caller
 * heard, delayed, attenuated and slightly filtered, plus line noise.
 *
 * What real lines do (ITU-T G.168, Digital network echo cancellers, clause 3 and Annex D):
 * - electric (hybrid) echo comes from the 2/4-wire hybrid's impedance mismatch. Its echo return
 *   loss (ERL, G.168 3.12) is at least 6 dB, the floor G.168's tests assume and the level below
 *   which network cancellers treat the return as double talk; hybrids typically give 6-15 dB
 *   or more. Its impulse response is band-limited (300-3400 Hz line filters) and dispersed over
 *   a few ms (Annex D's echo path models, one with a double reflection);
 * - the echo path delay (G.168 3.11, pure delay 3.20) a network canceller faces is within its
 *   tail capacity, 32-128 ms in practice; from our seat the echo also crosses the VoIP legs and
 *   jitter buffers twice, so it comes back 20-300 ms after we sent the audio;
 * - acoustic echo from a handset is weaker (terminal coupling loss is 40 dB and more on a
 *   digital handset) but longer and more dispersed; a speakerphone or a cheap handset is worse.
 * The simulator's delay is counted from the moment the caller heard the audio (HeardFrame.playMs):
 * the playout queue in front of it is simulated already.
 */

/** Something that can say what the caller heard, as 8 kHz samples from a sample index on. */
export interface HeardAudio {
  /** Add what the caller heard in [fromSample, fromSample + out.length) to `out`. */
  renderInto (out: Float64Array, fromSample: number): void
}

const RATE = 8000

/** Windowed-sinc band-pass, `taps` long (odd), unit gain at 1 kHz. */
function bandPass (taps: number, loHz: number, hiHz: number): Float64Array {
  const m = (taps - 1) / 2
  const h = Float64Array.from({ length: taps }, (_, i) => {
    const n = i - m
    const sinc = (f: number): number => n === 0 ? 2 * f : Math.sin(2 * Math.PI * f * n) / (Math.PI * n)
    const w = 0.54 - 0.46 * Math.cos(2 * Math.PI * i / (taps - 1))
    return w * (sinc(hiHz / RATE) - sinc(loHz / RATE))
  })
  return normalise(h, 1000)
}

/** Scale so the magnitude response at `hz` is 1: the set attenuation is the level of speech. */
function normalise (h: Float64Array, hz: number): Float64Array {
  let re = 0
  let im = 0
  for (let i = 0; i < h.length; i++) {
    re += (h[i] as number) * Math.cos(2 * Math.PI * hz * i / RATE)
    im -= (h[i] as number) * Math.sin(2 * Math.PI * hz * i / RATE)
  }
  const g = Math.hypot(re, im)
  return h.map((v) => v / g)
}

/** Adds `gain` times `h` delayed by `delay` samples into `into`. */
function addEcho (into: Float64Array, h: Float64Array, delay: number, gain: number): void {
  for (let i = 0; i < h.length; i++) into[i + delay] = (into[i + delay] as number) + gain * (h[i] as number)
}

/**
 * Impulse responses, main tap at index MAIN (the echo's set delay lands there).
 * - hybrid: the line filters' band-pass, and a weaker inverted second reflection 1.5 ms later;
 * - handset: the same band, with a few decaying reflections over ~10 ms (earpiece to mouthpiece
 *   through the handset's body and the ear's cavity).
 */
const MAIN = 16
const BAND = bandPass(2 * MAIN + 1, 300, 3400)

function impulse (filter: NonNullable<CallerEcho['filter']>): { taps: Float64Array, main: number } {
  if (filter === 'none') return { taps: Float64Array.of(1), main: 0 }
  const taps = new Float64Array(2 * MAIN + 1 + 96)
  addEcho(taps, BAND, 0, 1)
  if (filter === 'hybrid') {
    addEcho(taps, BAND, 12, -0.3)
  } else {
    for (const [at, g] of [[9, 0.45], [23, -0.3], [41, 0.2], [66, -0.12], [90, 0.07]] as const) addEcho(taps, BAND, at, g)
  }
  return { taps: normalise(taps, 1000), main: MAIN }
}

/** Deterministic Gaussian noise per sample index: a frame read twice is the same frame. */
function noiseAt (index: number, seed: number): number {
  const u1 = (hash(index * 2 + 1, seed) + 0.5) / 4294967296
  const u2 = hash(index * 2 + 2, seed) / 4294967296
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

function hash (n: number, seed: number): number {
  let x = (Math.imul(n | 0, 0x9e3779b1) ^ Math.imul(seed | 0, 0x85ebca77)) >>> 0
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0
  return (x ^ (x >>> 16)) >>> 0
}

export class LineEcho {
  readonly #heard: () => HeardAudio
  readonly #delay: number
  readonly #gain: number
  readonly #taps: Float64Array
  readonly #main: number
  readonly #noise: number
  readonly #seed: number

  constructor (heard: () => HeardAudio, options: CallerEcho) {
    const { delayMs, attenuationDb } = options
    // The park loop reads frame i at the end of its 20 ms: the echo of audio heard in that
    // same frame cannot be in it yet. Real round trips are never that short anyway.
    if (!Number.isFinite(delayMs) || delayMs < 20 || delayMs > 2000) throw new RangeError(`caller.echo.delayMs must be 20-2000 ms (got ${delayMs})`)
    if (!Number.isFinite(attenuationDb) || attenuationDb < 0) throw new RangeError(`caller.echo.attenuationDb must be >= 0 dB (got ${attenuationDb})`)
    this.#heard = heard
    this.#delay = Math.round(delayMs * RATE / 1000)
    this.#gain = 10 ** (-attenuationDb / 20)
    const { taps, main } = impulse(options.filter ?? 'hybrid')
    this.#taps = taps
    this.#main = main
    this.#noise = options.noiseDb === undefined ? 0 : 32768 * 10 ** (options.noiseDb / 20)
    this.#seed = options.seed ?? 1
  }

  /** Echo and line noise for the caller's samples [from, from + out.length), added to `out`. */
  addInto (out: Float64Array, from: number): void {
    const taps = this.#taps
    // y[t] = g * sum_k h[k] x[t - delay + main - k]: the main tap lands exactly at the delay.
    const first = from - this.#delay + this.#main - (taps.length - 1)
    const x = new Float64Array(out.length + taps.length - 1)
    this.#heard().renderInto(x, first)
    for (let i = 0; i < out.length; i++) {
      let acc = 0
      const end = i + taps.length - 1
      for (let k = 0; k < taps.length; k++) acc += (taps[k] as number) * (x[end - k] as number)
      out[i] = (out[i] as number) + this.#gain * acc
      if (this.#noise > 0) out[i] = (out[i] as number) + this.#noise * noiseAt(from + i, this.#seed)
    }
  }
}
