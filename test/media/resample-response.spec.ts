import t from 'tap'
import { resample } from '../../lib/media/resample.ts'
import { StreamingResampler } from '../../lib/media/resample-stream.ts'
import { db, meanSquare, middle, sine, toneEnergy } from './signals.ts'

/**
 * The downsampling filter's frequency response, measured end to end with full-scale tones (the
 * output's rounding noise is ~90 dB below them): flat through the telephone band, and nothing
 * that could fold into it above 1.15 x the target's Nyquist frequency (4.6 kHz for 8 kHz).
 */
const downs: Array<[from: number, to: number]> = [[24000, 8000], [16000, 8000], [48000, 8000], [22050, 8000], [24000, 16000]]

function gainDb (from: number, to: number, freq: number): number {
  const input = sine(freq, from, 0.5, 30000)
  return db(meanSquare(middle(resample(input, from, to))) / meanSquare(middle(input)))
}

for (const [from, to] of downs) {
  const nyquist = to / 2
  t.test(`${from} -> ${to} Hz: flat to ${0.85 * nyquist} Hz within 0.02 dB`, async (t) => {
    let worst = 0
    for (let f = 100; f <= 0.85 * nyquist; f += nyquist / 40) worst = Math.max(worst, Math.abs(gainDb(from, to, f)))
    t.ok(worst < 0.02, `largest deviation ${worst.toFixed(4)} dB`)
    // The -6 dB point sits on the Nyquist frequency (a tone exactly there samples to zeros).
    const edge = gainDb(from, to, 0.98 * nyquist)
    t.ok(edge < -3 && edge > -12, `half way down at the band edge (${edge.toFixed(1)} dB at ${0.98 * nyquist} Hz)`)
  })

  t.test(`${from} -> ${to} Hz: at least 65 dB down from ${1.15 * nyquist} Hz to the source's Nyquist`, async (t) => {
    let worst = -Infinity
    let at = 0
    for (let f = 1.15 * nyquist; f < from / 2 - 50; f += nyquist / 23) {
      const g = gainDb(from, to, f)
      if (g > worst) { worst = g; at = f }
    }
    t.ok(worst < -65, `loudest alias ${worst.toFixed(1)} dB (input at ${Math.round(at)} Hz)`)
  })
}

t.test('a tone that would fold into the telephone band is gone; one above it may fold above 3.4 kHz only', async (t) => {
  // 4.8 kHz at 24 kHz would land on 3.2 kHz; 4.2 kHz lands on 3.8 kHz, out of the phone's band.
  const high = resample(sine(4800, 24000, 1, 30000), 24000, 8000)
  t.ok(db(meanSquare(middle(high)) / (30000 ** 2 / 2)) < -65, 'the 4.8 kHz tone is at least 65 dB down')
  const edge = resample(sine(4200, 24000, 1, 30000), 24000, 8000)
  const inBand = toneEnergy(middle(edge), 3000, 8000) + toneEnergy(middle(edge), 2000, 8000)
  t.ok(db(inBand / (30000 ** 2 / 2)) < -65, 'what is left of 4.2 kHz adds nothing at 2-3 kHz')
})

t.test('a 24 kHz reply streamed in 20 ms chunks is continuous: the ideal signal at every seam', async (t) => {
  // A sweep through the flat part of the band: the filter has no delay, so output j must be the
  // sweep's value at input 3j to within rounding; a seam computed with missing, repeated or
  // zeroed inputs is off by thousands there.
  const n = 24000
  const sweep = new Int16Array(n)
  const ideal = new Float64Array(n)
  let phase = 0
  for (let i = 0; i < n; i++) {
    ideal[i] = 20000 * Math.sin(phase)
    sweep[i] = Math.round(ideal[i] as number)
    phase += 2 * Math.PI * (200 + 2800 * i / n) / 24000
  }
  const r = new StreamingResampler(24000, 8000)
  const parts: Int16Array[] = []
  for (let at = 0; at < n; at += 480) parts.push(r.push(sweep.subarray(at, at + 480)))
  parts.push(r.flush())
  const out = new Int16Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  t.equal(out.length, 8000)
  const whole = resample(sweep, 24000, 8000)
  t.ok(out.every((v, i) => v === whole[i]), 'sample for sample the whole-buffer result')
  let worst = 0
  for (let j = 100; j < out.length - 100; j++) worst = Math.max(worst, Math.abs((out[j] as number) - (ideal[3 * j] as number)))
  t.ok(worst <= 12, `largest error ${worst.toFixed(1)} (of an amplitude of 20000)`)
})
