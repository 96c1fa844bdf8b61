import t from 'tap'
import { resample } from '../../lib/media/resample.ts'
import { db, meanSquare, middle, sine, toneEnergy } from './signals.ts'

/** Telephony passband tones must come through within half a decibel, at the right frequency. */
const passband: Array<[from: number, to: number, freq: number]> = [
  [16000, 8000, 300],
  [16000, 8000, 1000],
  [16000, 8000, 3000],
  [22050, 8000, 1000],
  [22050, 8000, 3000],
  [44100, 8000, 440],
  [48000, 8000, 2000],
  [11025, 8000, 1000],
  [24000, 8000, 1000],
  [8000, 16000, 1000],
  [8000, 16000, 3000],
  [22050, 16000, 5000],
  // 8001/8000 needs 8000 phases: exercises the interpolated-phase path.
  [8001, 8000, 1000],
]

for (const [from, to, freq] of passband) {
  t.test(`${from} -> ${to} Hz keeps a ${freq} Hz tone`, async (t) => {
    const input = sine(freq, from, 1)
    const out = resample(input, from, to)
    t.equal(out.length, Math.ceil(input.length * to / from), 'length scales by the rate ratio')
    const gain = db(meanSquare(middle(out)) / meanSquare(middle(input)))
    t.ok(Math.abs(gain) < 0.5, `level within 0.5 dB (got ${gain.toFixed(2)} dB)`)
    const atFreq = toneEnergy(middle(out), freq, to)
    t.ok(db(atFreq / meanSquare(middle(out))) > -0.5, 'the energy is at the same frequency')
  })
}

/**
 * Tones above the target Nyquist must not fold back into the speech band. Naive decimation
 * (taking every Nth sample) would carry each of these at full level to `alias` Hz.
 */
const aliasing: Array<[from: number, to: number, freq: number, alias: number]> = [
  [16000, 8000, 5000, 3000],
  [16000, 8000, 6500, 1500],
  [22050, 8000, 6000, 2000],
  [44100, 8000, 12000, 4000],
  [48000, 8000, 9000, 1000],
  [48000, 16000, 13000, 3000],
]

for (const [from, to, freq, alias] of aliasing) {
  t.test(`${from} -> ${to} Hz suppresses a ${freq} Hz tone (would alias to ${alias} Hz)`, async (t) => {
    const input = sine(freq, from, 1)
    const out = resample(input, from, to)
    const level = db(meanSquare(middle(out)) / meanSquare(middle(input)))
    t.ok(level < -60, `at least 60 dB down (got ${level.toFixed(1)} dB)`)

    // The same input decimated naively, to show the test would catch a missing filter.
    const step = from / to
    const naive = Int16Array.from({ length: Math.floor(input.length / step) }, (_, i) => input[Math.floor(i * step)] ?? 0)
    t.ok(db(toneEnergy(middle(naive), alias, to) / meanSquare(middle(input))) > -3, 'naive decimation aliases')
  })
}

t.test('upsampling leaves no image above the old Nyquist', async (t) => {
  const input = sine(1000, 8000, 1)
  const out = resample(input, 8000, 16000)
  const image = db(toneEnergy(middle(out), 7000, 16000) / meanSquare(middle(out)))
  t.ok(image < -60, `7 kHz image at least 60 dB down (got ${image.toFixed(1)} dB)`)
})

t.test('a constant signal stays constant (unity DC gain on every phase)', async (t) => {
  for (const [from, to] of [[22050, 8000], [16000, 8000], [8000, 16000], [8001, 8000]] as const) {
    const out = resample(new Int16Array(from).fill(10000), from, to)
    const inner = middle(out)
    t.ok(inner.every((v) => Math.abs(v - 10000) <= 1), `${from} -> ${to}: flat at 10000`)
  }
})

t.test('full-scale input clips instead of wrapping around', async (t) => {
  // A square wave overshoots after filtering (Gibbs); the overshoot must saturate.
  const square = Int16Array.from({ length: 16000 }, (_, i) => (Math.floor(i / 20) % 2 === 0 ? 32767 : -32768))
  const out = resample(square, 16000, 8000)
  let max = -Infinity
  let min = Infinity
  for (const v of out) {
    max = Math.max(max, v)
    min = Math.min(min, v)
  }
  t.equal(max, 32767)
  t.equal(min, -32768)
  // Wrapping would put large negative values right after the positive peaks.
  const middleOfHigh = out[5] ?? 0
  t.ok(middleOfHigh > 20000, 'the positive half stays positive')
})

t.test('edge cases', async (t) => {
  t.equal(resample(new Int16Array(0), 16000, 8000).length, 0, 'empty in, empty out')
  const same = Int16Array.from([1, 2, 3])
  const copy = resample(same, 8000, 8000)
  t.same([...copy], [1, 2, 3], 'same rate is a copy')
  t.not(copy, same, 'a new array, so callers may mutate it')
  t.equal(resample(Int16Array.from([5]), 22050, 8000).length, 1, 'a single sample survives')
  t.throws(() => resample(same, 0, 8000), { code: 'MEDIA_INVALID' })
  t.throws(() => resample(same, 8000, 44100.5), { code: 'MEDIA_INVALID' })
})
