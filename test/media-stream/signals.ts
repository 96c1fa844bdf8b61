/** Synthetic telephone signals for the VAD tests, deterministic (seeded noise). */

export function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function gauss (rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand())
}

export function dbfsToRms (dbfs: number): number {
  return 32768 * 10 ** (dbfs / 20)
}

function clip (v: number): number {
  return Math.max(-32768, Math.min(32767, Math.round(v)))
}

export function silence (rate: number, seconds: number): Int16Array {
  return new Int16Array(Math.round(rate * seconds))
}

/** Gaussian white noise at an RMS level in dBFS. */
export function whiteNoise (rate: number, seconds: number, dbfs: number, seed = 1): Int16Array {
  const rand = rng(seed)
  const a = dbfsToRms(dbfs)
  return Int16Array.from({ length: Math.round(rate * seconds) }, () => clip(a * gauss(rand)))
}

/** Brown-ish (low-passed) noise, like hum-free line rumble. */
export function pinkishNoise (rate: number, seconds: number, dbfs: number, seed = 2): Int16Array {
  const rand = rng(seed)
  const n = Math.round(rate * seconds)
  const raw = new Float64Array(n)
  let y = 0
  for (let i = 0; i < n; i++) { y = 0.9 * y + gauss(rand); raw[i] = y }
  return scaleTo(raw, dbfs)
}

function scaleTo (raw: Float64Array, dbfs: number): Int16Array {
  let ss = 0
  for (let i = 0; i < raw.length; i++) ss += (raw[i] as number) * (raw[i] as number)
  const k = dbfsToRms(dbfs) / Math.sqrt(ss / raw.length || 1)
  const out = new Int16Array(raw.length)
  for (let i = 0; i < raw.length; i++) out[i] = clip((raw[i] as number) * k)
  return out
}

/** Sum of sines, on/off cadence in seconds (e.g. Italian ringback: [425], 1 on, 4 off). */
export function tones (rate: number, seconds: number, freqs: readonly number[], dbfs: number, cadence?: { on: number, off: number }): Int16Array {
  const n = Math.round(rate * seconds)
  const a = dbfsToRms(dbfs) * Math.SQRT2 / freqs.length
  const out = new Int16Array(n)
  for (let i = 0; i < n; i++) {
    const t = i / rate
    if (cadence !== undefined && t % (cadence.on + cadence.off) >= cadence.on) continue
    let v = 0
    for (const f of freqs) v += Math.sin(2 * Math.PI * f * t)
    out[i] = clip(a * v)
  }
  return out
}

const DTMF: Record<string, [number, number]> = {
  1: [697, 1209], 2: [697, 1336], 3: [697, 1477], 4: [770, 1209], 5: [770, 1336], 6: [770, 1477],
  7: [852, 1209], 8: [852, 1336], 9: [852, 1477], 0: [941, 1336], '*': [941, 1209], '#': [941, 1477],
}

/** DTMF digits, each `toneMs` of the pair then `gapMs` of silence. */
export function dtmf (rate: number, digits: string, dbfs: number, toneMs = 100, gapMs = 80): Int16Array {
  const parts: Int16Array[] = []
  for (const d of digits) {
    const pair = DTMF[d]
    if (pair === undefined) throw new Error(`no DTMF digit ${d}`)
    parts.push(tones(rate, toneMs / 1000, pair, dbfs), silence(rate, gapMs / 1000))
  }
  return concat(parts)
}

/** Single-sample clicks every `everyMs`. */
export function clicks (rate: number, seconds: number, everyMs: number, amplitude = 20000): Int16Array {
  const out = new Int16Array(Math.round(rate * seconds))
  const step = Math.round(rate * everyMs / 1000)
  for (let i = step; i < out.length; i += step) { out[i] = amplitude; out[i + 1] = -amplitude / 2 }
  return out
}

/** A cough: a noise burst with a fast attack and a decay, `ms` long. */
export function cough (rate: number, ms: number, dbfs: number, seed = 3): Int16Array {
  const rand = rng(seed)
  const n = Math.round(rate * ms / 1000)
  const raw = Float64Array.from({ length: n }, (_, i) => {
    const t = i / n
    const env = Math.min(1, t * 20) * Math.exp(-4 * t)
    return env * gauss(rand)
  })
  return scaleTo(raw, dbfs)
}

// Vowel formants (F1, F2, F3) of a few vowels.
const VOWELS: ReadonlyArray<readonly [number, number, number]> = [[730, 1090, 2440], [270, 2290, 3010], [530, 1840, 2480], [570, 840, 2410], [300, 870, 2240], [660, 1720, 2410]]

/**
 * Speech-like audio: syllables of a harmonic source whose pitch glides and jitters, shaped by
 * vowel formants, with syllabic amplitude modulation and short pauses between syllables.
 */
export function speechLike (rate: number, seconds: number, dbfs: number, options: { f0?: number, seed?: number } = {}): Int16Array {
  // The same speech is asked for again and again (every simulated caller's "voice(500, 900)"),
  // and each second of it is ~200,000 sines: made once per process, a copy per caller.
  const key = `${rate}|${seconds}|${dbfs}|${options.f0 ?? ''}|${options.seed ?? ''}`
  let made = SPEECH_MADE.get(key)
  if (made === undefined) {
    made = makeSpeechLike(rate, seconds, dbfs, options)
    SPEECH_MADE.set(key, made)
  }
  return made.slice()
}

const SPEECH_MADE = new Map<string, Int16Array>()

function makeSpeechLike (rate: number, seconds: number, dbfs: number, options: { f0?: number, seed?: number }): Int16Array {
  const rand = rng(options.seed ?? 7)
  const baseF0 = options.f0 ?? 130
  const n = Math.round(rate * seconds)
  const raw = new Float64Array(n)
  const topHz = Math.min(3800, rate / 2 - 100)
  let i = 0
  let phase = 0
  while (i < n) {
    const syll = Math.round(rate * (0.14 + 0.12 * rand()))
    const pause = Math.round(rate * (0.03 + 0.07 * rand()))
    const vowel = VOWELS[Math.floor(rand() * VOWELS.length)] as readonly [number, number, number]
    const startF0 = baseF0 * (0.85 + 0.3 * rand())
    const glide = (rand() - 0.5) * 0.4
    for (let k = 0; k < syll && i < n; k++, i++) {
      const t = k / syll
      const f0 = startF0 * (1 + glide * t) * (1 + 0.01 * gauss(rand))
      phase += 2 * Math.PI * f0 / rate
      let v = 0
      for (let h = 1; h * f0 < topHz; h++) {
        const f = h * f0
        // Indexed, not vowel.entries(): the iterator and its [j, fm] pairs, made for every
        // harmonic of every sample, were most of the suite's time spent making test speech.
        let amp = 0
        for (let j = 0; j < 3; j++) amp += (1 / (j + 1)) / (1 + ((f - (vowel[j] as number)) / 90) ** 2)
        v += (amp + 0.02) * Math.sin(h * phase) / Math.sqrt(h)
      }
      const env = Math.sin(Math.PI * t) ** 0.6
      raw[i] = v * env + 0.01 * gauss(rand)
    }
    i += pause
  }
  return scaleTo(raw, dbfs)
}

export function concat (parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((a, p) => a + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** Sample-wise sum, clipped; the shorter signal is treated as zero-padded. */
export function mix (a: Int16Array, b: Int16Array): Int16Array {
  const out = new Int16Array(Math.max(a.length, b.length))
  for (let i = 0; i < out.length; i++) out[i] = clip((a[i] ?? 0) + (b[i] ?? 0))
  return out
}

/** Split into 20 ms frames. */
export function frames (samples: Int16Array, rate: number): Int16Array[] {
  const size = rate / 50
  const out: Int16Array[] = []
  for (let i = 0; i + size <= samples.length; i += size) out.push(samples.subarray(i, i + size))
  return out
}
