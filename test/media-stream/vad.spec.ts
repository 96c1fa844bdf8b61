import t from 'tap'
import { Vad, type VadEvent, type VadOptions } from '../../lib/media/vad/vad.ts'
import { OfflineTts } from '../../lib/speech/tts/offline.ts'
import { int16FromBytes } from '../../lib/media/pcm.ts'
import { resample } from '../../lib/media/resample.ts'
import { captureLogs } from '../helpers/logs.ts'
import * as s from './signals.ts'

function run (signal: Int16Array, rate: number, options: Partial<VadOptions> = {}): VadEvent[] {
  const vad = new Vad({ rate, ...options })
  const events: VadEvent[] = []
  s.frames(signal, rate).forEach((f, i) => {
    const e = vad.push(f, i * 20)
    if (e !== undefined) events.push(e)
  })
  return events
}

for (const rate of [8000, 16000]) {
  const q = s.silence(rate, 1)

  t.test(`${rate} Hz: speech-like audio gives one utterance with the right bounds`, async (t) => {
    for (const [f0, seed] of [[130, 7], [220, 9], [90, 4]] as const) {
      const events = run(s.concat([q, s.speechLike(rate, 3, -20, { f0, seed }), q]), rate)
      t.equal(events.length, 2, `f0 ${f0}: start and end`)
      const [start, end] = events
      t.equal(start?.type, 'speech-start')
      if (start?.type === 'speech-start') {
        t.ok(start.at >= 1000 && start.at <= 1350, `starts near 1 s (got ${start.at})`)
        t.ok(start.detectedAt - start.at >= 200, 'confirmed after the minimum speech')
      }
      if (end?.type === 'speech-end') {
        t.ok(end.endAt >= 3900 && end.endAt <= 4100, `ends near 4 s (got ${end.endAt})`)
        t.equal(end.detectedAt - end.endAt, 500, 'declared after the end silence')
      }
    }
  })

  t.test(`${rate} Hz: end silence and minimum speech are configurable`, async (t) => {
    const speech = s.concat([q, s.speechLike(rate, 2, -20), q])
    const end = run(speech, rate, { endSilenceMs: 300 }).find((e) => e.type === 'speech-end')
    t.equal(end !== undefined && end.detectedAt - end.endAt, 300)
    // A 150 ms voiced "mm" is below the default minimum; with minSpeechMs 100 it counts.
    const mm = s.concat([q, s.speechLike(rate, 0.15, -20, { seed: 11 }), q])
    t.same(run(mm, rate), [], 'a short "mm" is not speech')
    t.equal(run(mm, rate, { minSpeechMs: 100 })[0]?.type, 'speech-start')
  })

  t.test(`${rate} Hz: speech over line noise and quiet speech are still found`, async (t) => {
    const noisy = s.mix(s.concat([q, s.speechLike(rate, 3, -20), q]), s.whiteNoise(rate, 5, -45))
    t.same(run(noisy, rate).map((e) => e.type), ['speech-start', 'speech-end'])
    const quiet = s.concat([q, s.speechLike(rate, 3, -38), q])
    t.same(run(quiet, rate).map((e) => e.type), ['speech-start', 'speech-end'])
  })

  t.test(`${rate} Hz: ringback, busy and DTMF never trigger`, async (t) => {
    t.same(run(s.tones(rate, 10, [425], -15, { on: 1, off: 4 }), rate), [], 'Italian ringback 425 Hz')
    t.same(run(s.tones(rate, 12, [440, 480], -15, { on: 2, off: 4 }), rate), [], 'US ringback 440+480 Hz')
    t.same(run(s.tones(rate, 6, [400, 450], -15, { on: 0.4, off: 0.2 }), rate), [], 'UK ringback 400+450 Hz')
    t.same(run(s.tones(rate, 6, [480, 620], -10, { on: 0.5, off: 0.5 }), rate), [], 'US busy 480+620 Hz')
    t.same(run(s.dtmf(rate, '1234567890*#1234567890*#', -10), rate), [], 'a burst of DTMF digits')
    t.same(run(s.dtmf(rate, '5555', -10, 400, 100), rate), [], 'long DTMF presses')
    t.same(run(s.mix(s.tones(rate, 10, [425], -20, { on: 1, off: 4 }), s.whiteNoise(rate, 10, -40)), rate), [], 'ringback over line noise')
  })

  t.test(`${rate} Hz: line noise, coughs and clicks never trigger`, async (t) => {
    t.same(run(s.whiteNoise(rate, 10, -35), rate), [], 'white noise at line level')
    t.same(run(s.whiteNoise(rate, 10, -20), rate), [], 'loud white noise')
    t.same(run(s.pinkishNoise(rate, 10, -30), rate), [], 'low-passed noise')
    t.same(run(s.concat([q, s.pinkishNoise(rate, 10, -25)]), rate), [], 'noise switching on suddenly')
    t.same(run(s.concat([q, s.cough(rate, 300, -15), q, s.cough(rate, 400, -10, 5), q]), rate), [], 'coughs')
    t.same(run(s.clicks(rate, 5, 100), rate), [], 'clicks')
  })
}

t.test('flite speech (a real synthesiser) is detected, alone and over noise, at both rates', async (t) => {
  const { logger } = captureLogs('warn')
  const tts = new OfflineTts({ logger })
  // flite runs in a child process: left open, it keeps this file alive until tap's timeout.
  t.teardown(async () => { await tts.close() })
  const chunks: Int16Array[] = []
  let from = 0
  for await (const c of tts.synthesize({ text: 'Hello, I would like to book a table for two people tomorrow evening at eight, please.', voice: 'slt' }, {})) {
    chunks.push(int16FromBytes(c.pcm))
    from = c.sampleRate
  }
  for (const rate of [8000, 16000]) {
    const speech = resample(s.concat(chunks), from, rate)
    const q = s.silence(rate, 1)
    const clean = s.concat([q, speech, q])
    const seconds = clean.length / rate
    t.same(run(clean, rate).map((e) => e.type), ['speech-start', 'speech-end'], `${rate}: one utterance`)
    t.same(run(s.mix(clean, s.whiteNoise(rate, seconds, -40)), rate).map((e) => e.type), ['speech-start', 'speech-end'], `${rate}: over noise`)
    const end = run(clean, rate).find((e) => e.type === 'speech-end')
    t.ok(end !== undefined && end.endAt > 1000 + speech.length * 1000 / rate - 400, 'the utterance covers the sentence')
  }
})

t.test('the frame verdict is exposed for logs and tuning', async (t) => {
  const vad = new Vad({ rate: 8000 })
  vad.push(s.tones(8000, 0.02, [425], -15), 0)
  t.match(vad.lastFrame, { class: 'tone' })
  vad.push(new Int16Array(160), 20)
  t.match(vad.lastFrame, { class: 'quiet' })
  t.equal(vad.speaking, false)
})

t.test('speechEndSoFar: while speaking, where the speech-end to come will say it ended; undefined otherwise', async (t) => {
  const rate = 8000
  const vad = new Vad({ rate })
  const signal = s.concat([s.silence(rate, 1), s.speechLike(rate, 2, -20), s.silence(rate, 1)])
  const soFar: Array<number | undefined> = []
  let end: VadEvent | undefined
  s.frames(signal, rate).forEach((f, i) => {
    const e = vad.push(f, i * 20)
    if (e?.type === 'speech-end') end = e
    if (end === undefined) soFar.push(vad.speechEndSoFar)
  })
  t.equal(soFar[10], undefined, 'not speaking yet')
  t.equal(end?.type, 'speech-end')
  t.equal(soFar.at(-1), end?.type === 'speech-end' ? end.endAt : NaN, 'inside the end silence it already names the end')
  t.equal(vad.speechEndSoFar, undefined, 'and once the end is declared, nothing')
})
