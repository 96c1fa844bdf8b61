import t from 'tap'
import { bytesFromInt16, concatInt16, durationMs, int16FromBytes, rms, toMono, toMonoAt } from '../../lib/media/pcm.ts'
import { sine } from './signals.ts'

t.test('bytes <-> int16 are little-endian and lossless', async (t) => {
  const samples = Int16Array.from([0, 1, -1, 32767, -32768, 258])
  const bytes = bytesFromInt16(samples)
  t.same([...bytes.subarray(10, 12)], [0x02, 0x01], '258 is 02 01 on the wire')
  t.same([...int16FromBytes(bytes)], [...samples])
  // A Buffer sliced at an odd offset cannot back an Int16Array view; the copy must still work.
  const odd = Buffer.concat([Buffer.from([9]), bytes]).subarray(1)
  t.same([...int16FromBytes(odd)], [...samples])
  t.throws(() => int16FromBytes(Buffer.alloc(3)), { code: 'MEDIA_INVALID' })
})

t.test('duration', async (t) => {
  t.equal(durationMs({ sampleRate: 8000, channels: 1, samples: new Int16Array(8000) }), 1000)
  t.equal(durationMs({ sampleRate: 16000, channels: 2, samples: new Int16Array(16000) }), 500)
  t.equal(durationMs({ sampleRate: 8000, channels: 1, samples: new Int16Array(0) }), 0)
})

t.test('downmix averages each frame', async (t) => {
  const mono = toMono({ sampleRate: 8000, channels: 2, samples: Int16Array.from([100, 300, -32768, -32768, 32767, -32768, 1, 2]) })
  t.equal(mono.channels, 1)
  t.same([...mono.samples], [200, -32768, 0, 2])
  const already = { sampleRate: 8000, channels: 1, samples: Int16Array.from([1]) }
  t.equal(toMono(already), already, 'mono is passed through')
})

t.test('toMonoAt downmixes and resamples to the target rate', async (t) => {
  const left = sine(1000, 16000, 0.5)
  const stereo = new Int16Array(left.length * 2)
  for (let i = 0; i < left.length; i++) {
    stereo[2 * i] = left[i] ?? 0
    stereo[2 * i + 1] = left[i] ?? 0
  }
  const out = toMonoAt({ sampleRate: 16000, channels: 2, samples: stereo }, 8000)
  t.equal(out.sampleRate, 8000)
  t.equal(out.channels, 1)
  t.equal(out.samples.length, 4000)
  t.ok(Math.abs(rms(out.samples) - rms(left)) < 0.01, 'same level')
})

t.test('rms and concat', async (t) => {
  t.equal(rms(new Int16Array(10)), 0)
  t.equal(rms(new Int16Array(0)), 0)
  t.ok(Math.abs(rms(sine(1000, 8000, 1, 32767)) - Math.SQRT1_2) < 0.001, 'full-scale sine is 1/sqrt(2)')
  t.same([...concatInt16([Int16Array.from([1]), new Int16Array(0), Int16Array.from([2, 3])])], [1, 2, 3])
})
