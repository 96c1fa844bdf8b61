import t from 'tap'
import { FrameClassifier } from '../../lib/media/vad/classify.ts'
import { ReferenceClassifier } from './vad-reference.ts'
import { clicks, concat, cough, dtmf, frames, mix, pinkishNoise, silence, speechLike, tones, whiteNoise } from './signals.ts'

/**
 * The classic detector's hot path was made cheaper (features only when the class depends on
 * them, periodicity from running sums of squares and stopped once voicing is proven, no
 * allocation per frame, a real-input FFT). Its decisions must not move: every frame of a wide set
 * of signals gets the class the reference copy of the old classifier gives it, and where a feature
 * is computed it is the same number: energy, floor and periodicity to the bit (a voiced frame's
 * periodicity: at least the threshold), the spectrum's shares within rounding and its peak bin.
 */

function signals (rate: number): Array<{ name: string, samples: Int16Array }> {
  const out: Array<{ name: string, samples: Int16Array }> = []
  for (const [i, db] of [-12, -18, -26, -34, -42].entries()) {
    out.push({ name: `speech ${db} dBFS`, samples: speechLike(rate, 2, db, { seed: 20 + i, f0: 90 + 40 * i }) })
    out.push({ name: `speech ${db} dBFS in line noise`, samples: mix(speechLike(rate, 2, db, { seed: 30 + i }), whiteNoise(rate, 2, -50, 40 + i)) })
  }
  for (const db of [-70, -55, -44, -35, -25]) out.push({ name: `white noise ${db} dBFS`, samples: whiteNoise(rate, 1.5, db, 7) })
  out.push({ name: 'pinkish noise', samples: pinkishNoise(rate, 1.5, -30) })
  out.push({ name: 'noise switching on', samples: concat([silence(rate, 0.5), whiteNoise(rate, 1, -30, 9), silence(rate, 0.3)]) })
  out.push({ name: 'Italian ringback', samples: tones(rate, 2, [425], -14, { on: 1, off: 0.5 }) })
  out.push({ name: 'US ringback', samples: tones(rate, 2, [440, 480], -16) })
  out.push({ name: 'UK ringback', samples: tones(rate, 2, [400, 450], -16, { on: 0.4, off: 0.2 }) })
  out.push({ name: 'DTMF', samples: dtmf(rate, '0123456789*#', -10) })
  out.push({ name: 'clicks', samples: clicks(rate, 1, 120) })
  out.push({ name: 'cough', samples: concat([silence(rate, 0.2), cough(rate, 300, -15), silence(rate, 0.3)]) })
  out.push({ name: 'speech after a tone, then silence', samples: concat([tones(rate, 0.6, [425], -14), speechLike(rate, 1.2, -20, { seed: 50 }), silence(rate, 0.6)]) })
  out.push({ name: 'digital silence', samples: silence(rate, 0.5) })
  return out
}

function relative (a: number, b: number): number {
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b))
}

for (const rate of [8000, 16000]) {
  t.test(`${rate} Hz: every frame classed as the reference classifier classes it`, async (t) => {
    let compared = 0
    let voiced = 0
    let worst = 0
    for (const { name, samples } of signals(rate)) {
      const now = new FrameClassifier({ rate })
      const ref = new ReferenceClassifier({ rate })
      const mismatches: string[] = []
      for (const [i, f] of frames(samples, rate).entries()) {
        const a = now.classify(f)
        const b = ref.classify(f)
        compared++
        if (a.class === 'voiced') voiced++
        if (a.class !== b.class || a.energyDb !== b.energyDb || a.floorDb !== b.floorDb) {
          mismatches.push(`frame ${i}: ${a.class} vs ${b.class}`)
          continue
        }
        // The spectrum is a real-input FFT now (features.ts): the same powers but for rounding,
        // so its shares agree to far below anything a threshold could tell apart.
        if (a.class !== 'quiet') {
          worst = Math.max(worst, relative(a.peakShare, b.peakShare), relative(a.flatness, b.flatness))
          if (a.peakBin !== b.peakBin || relative(a.peakShare, b.peakShare) > 1e-9 || relative(a.flatness, b.flatness) > 1e-9) mismatches.push(`frame ${i}: spectrum differs (${a.peakShare} vs ${b.peakShare}, ${a.flatness} vs ${b.flatness})`)
        }
        // A voiced frame's search stops at the first lag that proves voicing: at least the
        // threshold, never above the best; an unvoiced frame's is the full search, the same number.
        if (a.class === 'voiced' && !(a.periodicity >= 0.5 && a.periodicity <= b.periodicity)) mismatches.push(`frame ${i}: voiced at ${a.periodicity} (best ${b.periodicity})`)
        if (a.class === 'unvoiced' && a.periodicity !== 0 && a.periodicity !== b.periodicity) mismatches.push(`frame ${i}: periodicity ${a.periodicity} vs ${b.periodicity}`)
      }
      t.same(mismatches, [], name)
    }
    t.ok(voiced > 100, `the set has voiced frames to compare (${voiced} of ${compared})`)
    t.ok(worst < 1e-9, `peak share and flatness within rounding of the reference's (worst relative difference ${worst.toExponential(1)})`)
  })
}

t.test('the verdict is one object per classifier, rewritten each frame (no allocation per frame)', async (t) => {
  const c = new FrameClassifier({ rate: 8000 })
  const [a, b] = frames(speechLike(8000, 0.1, -18), 8000)
  const first = c.classify(a!)
  t.equal(c.classify(b!), first)
})

t.test('the full periodicity search (measure) gives the reference number to the bit', async (t) => {
  const { FeatureExtractor } = await import('../../lib/media/vad/features.ts')
  for (const rate of [8000, 16000]) {
    const x = new FeatureExtractor(rate)
    const ref = new ReferenceClassifier({ rate, minEnergyDb: -200, snrDb: -200 })
    let differ = 0
    for (const f of frames(speechLike(rate, 1.5, -20, { seed: 61 }), rate)) {
      if (x.measure(f).periodicity !== ref.classify(f).periodicity) differ++
    }
    t.equal(differ, 0, `${rate} Hz`)
  }
})

t.test('many calls\' classifiers, frames interleaved (shared scratch), class each as alone', async (t) => {
  for (const rate of [8000, 16000]) {
    const set = signals(rate).map((s) => frames(s.samples, rate))
    const alone = set.map((list) => {
      const c = new FrameClassifier({ rate })
      return list.map((f) => ({ ...c.classify(f) }))
    })
    const classifiers = set.map(() => new FrameClassifier({ rate }))
    const longest = Math.max(...set.map((list) => list.length))
    const mismatches: string[] = []
    for (let i = 0; i < longest; i++) {
      set.forEach((list, k) => {
        const f = list[i]
        if (f === undefined) return
        const v = (classifiers[k] as FrameClassifier).classify(f)
        if (JSON.stringify(v) !== JSON.stringify(alone[k]?.[i])) mismatches.push(`signal ${k} frame ${i}`)
      })
    }
    t.same(mismatches, [], `${rate} Hz`)
  }
})
