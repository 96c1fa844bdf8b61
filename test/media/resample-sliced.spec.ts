import t from 'tap'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resample } from '../../lib/media/resample.ts'
import { resampleSliced, resampledLength } from '../../lib/media/resample-stream.ts'
import { toMono } from '../../lib/media/pcm.ts'
import { encodeWav, parseWav } from '../../lib/media/wav.ts'
import { DecodedAudioCache } from '../../lib/call/stream/decoded-audio.ts'
import { sine } from './signals.ts'

/**
 * Whole-buffer conversions run a slice (~100 ms of input) per task, so a long sentence never
 * holds the event loop that paces every call: counted here by the waits between slices, with
 * the result compared sample for sample with the one-piece conversion.
 */

/** -1 when equal, else the first index that differs (tap's deep compare is slow on long arrays). */
function firstDifference (a: Int16Array, b: Int16Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length)
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i
  return -1
}

function speechLike (rate: number, seconds: number): Int16Array {
  const a = sine(220, rate, seconds, 9000)
  const b = sine(2900, rate, seconds, 5000)
  const out = new Int16Array(a.length)
  for (let i = 0; i < out.length; i++) out[i] = (a[i] ?? 0) + (b[i] ?? 0) + (i % 331 === 0 ? 12000 : 0)
  return out
}

t.test('resampleSliced: a 12 s sentence at 24 kHz in 100 ms slices, one task each, equal to resample()', async (t) => {
  const input = speechLike(24000, 12)
  for (const to of [8000, 16000]) {
    let waits = 0
    const ready: number[] = []
    const out = await resampleSliced(input, 24000, to, {
      yieldTask: async () => { waits++ },
      onSlice: (n) => { ready.push(n); return true },
    })
    t.equal(waits, 119, `${to}: 120 slices, a wait between each two`)
    t.equal(ready.length, 120)
    t.ok(ready.every((n, i) => i === 0 || n > (ready[i - 1] ?? 0)), 'output grows with every slice')
    t.equal(ready.at(-1), out.length, 'the last slice completes the output')
    t.equal(out.length, resampledLength(input.length, 24000, to))
    t.equal(firstDifference(out, resample(input, 24000, to)), -1, 'identical to the one-piece conversion')
  }
})

t.test('resampleSliced: the first slice is ready before the first wait; onSlice false stops it', async (t) => {
  const input = speechLike(24000, 2)
  let readyBeforeWait = 0
  let waits = 0
  const pending = resampleSliced(input, 24000, 8000, {
    yieldTask: async () => { waits++ },
    onSlice: (n) => { if (waits === 0) readyBeforeWait = n; return waits < 3 },
  })
  t.ok(readyBeforeWait > 700, 'about 100 ms of output synchronously (the first frames can go at once)')
  const out = await pending
  t.equal(waits, 3, 'stopped after the fourth slice')
  t.equal(firstDifference(out.subarray(0, 3000), resample(input, 24000, 8000).subarray(0, 3000)), -1, 'what was converted is right')
})

t.test('sound files: decoded, downmixed and resampled a slice per task, equal to the whole-file path', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-sliced-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const left = speechLike(22050, 5)
  const right = sine(700, 22050, 5, 7000)
  const stereo = new Int16Array(left.length * 2)
  for (let i = 0; i < left.length; i++) { stereo[2 * i] = left[i] ?? 0; stereo[2 * i + 1] = right[i] ?? 0 }
  const path = join(dir, 'prompt.wav')
  const wav = encodeWav({ sampleRate: 22050, channels: 2, samples: stereo })
  await writeFile(path, wav)
  let waits = 0
  const cache = new DecodedAudioCache(64 * 1024 * 1024, { yieldTask: async () => { waits++ } })
  const got = await cache.get(path, 8000)
  t.equal(waits, 49, '5 s in 100 ms slices: 50 tasks')
  t.equal(firstDifference(got, resample(toMono(parseWav(wav)).samples, 22050, 8000)), -1, 'identical to parse + downmix + resample in one piece')
  waits = 0
  const same = join(dir, 'same-rate.wav')
  const eight = speechLike(8000, 1)
  await writeFile(same, encodeWav({ sampleRate: 8000, channels: 1, samples: eight }))
  t.equal(firstDifference(await cache.get(same, 8000), eight), -1, 'at the stream rate: the samples as they are')
  t.equal(waits, 9)
})
