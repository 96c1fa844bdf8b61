import t from 'tap'
import { resample } from '../../lib/media/resample.ts'
import { StreamingResampler } from '../../lib/media/resample-stream.ts'
import { sine } from './signals.ts'

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** Speech-like test input: two tones, a sweep of noise and full-scale peaks (clipping paths). */
function signal (rate: number, seconds: number, seed: number): Int16Array {
  const random = rng(seed)
  const a = sine(440, rate, seconds, 9000)
  const b = sine(3100, rate, seconds, 6000)
  const out = new Int16Array(a.length)
  for (let i = 0; i < out.length; i++) {
    const v = (a[i] ?? 0) + (b[i] ?? 0) + (random() - 0.5) * 8000 + (i % 997 === 0 ? 30000 : 0)
    out[i] = Math.max(-32768, Math.min(32767, Math.round(v)))
  }
  return out
}

/** Cuts `samples` at random places: empty pieces, single samples and large runs included. */
function chunks (samples: Int16Array, random: () => number): Int16Array[] {
  const out: Int16Array[] = []
  let at = 0
  while (at < samples.length) {
    const r = random()
    const size = r < 0.1 ? 0 : r < 0.2 ? 1 : r < 0.9 ? Math.floor(random() * 700) : Math.floor(random() * 9000)
    out.push(samples.subarray(at, at + size))
    at += size
  }
  return out
}

function streamed (pieces: readonly Int16Array[], from: number, to: number): { out: Int16Array, pushes: Int16Array[] } {
  const r = new StreamingResampler(from, to)
  const pushes = pieces.map((p) => r.push(p))
  const tail = r.flush()
  const total = pushes.reduce((n, p) => n + p.length, 0) + tail.length
  const out = new Int16Array(total)
  let at = 0
  for (const p of [...pushes, tail]) { out.set(p, at); at += p.length }
  return { out, pushes }
}

function maxDiff (a: Int16Array, b: Int16Array): number {
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)))
  return worst
}

const pairs: Array<[from: number, to: number]> = [
  [24000, 8000],
  [24000, 16000],
  [16000, 8000],
  [22050, 8000],
  [8000, 16000],
  // 8001 -> 8000 has more phases than the table keeps: the interpolated-phase path.
  [8001, 8000],
]

for (const [from, to] of pairs) {
  t.test(`${from} -> ${to} Hz chunk by chunk equals the whole-buffer resampler`, async (t) => {
    const input = signal(from, 0.7, from + to)
    const whole = resample(input, from, to)
    for (let seed = 1; seed <= 12; seed++) {
      const pieces = chunks(input, rng(seed * 7919 + from))
      const { out } = streamed(pieces, from, to)
      t.equal(out.length, whole.length, `seed ${seed}: same length (${pieces.length} pieces)`)
      t.equal(maxDiff(out, whole), 0, `seed ${seed}: same samples`)
    }
  })
}

t.test('output comes out as input goes in, not at the end', async (t) => {
  const input = signal(24000, 1, 3)
  const r = new StreamingResampler(24000, 8000)
  const first = r.push(input.subarray(0, 480))
  // 20 ms of 24 kHz: 160 outputs minus the filter's look-ahead (halfWidth 44 inputs = 15 outputs).
  t.ok(first.length >= 145 && first.length <= 160, `most of the first 20 ms is out at once (${first.length})`)
  let out = first.length
  for (let at = 480; at < input.length; at += 480) out += r.push(input.subarray(at, at + 480)).length
  const tail = r.flush()
  t.ok(tail.length > 0 && tail.length <= 15, `only the look-ahead waits for flush (${tail.length})`)
  t.equal(out + tail.length, 8000)
  t.same(r.position, { input: 24000, output: 8000 })
})

t.test('equal rates pass through; output arrays are the caller\'s to keep', async (t) => {
  const r = new StreamingResampler(8000, 8000)
  const a = Int16Array.from([1, 2, 3])
  const out = r.push(a)
  t.same([...out], [1, 2, 3])
  a[0] = 99
  t.equal(out[0], 1, 'a copy, not the input')
  t.equal(r.flush().length, 0)

  const down = new StreamingResampler(16000, 8000)
  const x = down.push(signal(16000, 0.1, 9))
  const before = [...x]
  down.push(signal(16000, 0.5, 10))
  t.same([...x], before, 'a later push never writes into an earlier output')
})

t.test('bad rates and push after flush are typed errors', async (t) => {
  t.throws(() => new StreamingResampler(0, 8000), { name: 'PhoneAgentError', code: 'MEDIA_INVALID' })
  t.throws(() => new StreamingResampler(8000, 8000.5), { name: 'PhoneAgentError', code: 'MEDIA_INVALID' })
  t.throws(() => new StreamingResampler(1, 1), { name: 'PhoneAgentError', code: 'MEDIA_INVALID' })
  const r = new StreamingResampler(24000, 8000)
  r.push(new Int16Array(10))
  t.ok(r.flush().length > 0)
  t.equal(r.flush().length, 0, 'a second flush owes nothing')
  t.throws(() => r.push(new Int16Array(1)), { name: 'PhoneAgentError', code: 'MEDIA_INVALID' })
})

t.test('an empty signal gives nothing; a short one gives what resample() gives', async (t) => {
  const empty = new StreamingResampler(24000, 8000)
  t.equal(empty.flush().length, 0)
  const input = Int16Array.from([1000, -2000, 3000, 4000, -5000])
  const { out } = streamed([input.subarray(0, 2), input.subarray(2)], 24000, 8000)
  t.same([...out], [...resample(input, 24000, 8000)])
})

t.test('the history buffer stays small over a long stream (no growth per chunk)', async (t) => {
  const r = new StreamingResampler(24000, 8000)
  const piece = signal(24000, 0.02, 4)
  const initial = r.capacity
  for (let i = 0; i < 3000; i++) r.push(piece) // one minute of 20 ms chunks
  const { input, output } = r.position
  t.equal(input, 3000 * 480)
  t.ok(input / 3 - output <= 15, 'output keeps up with input')
  t.equal(r.capacity, initial, 'the history buffer never grew')
  r.push(new Int16Array(50_000))
  t.ok(r.capacity >= 50_000, 'a chunk bigger than the buffer grows it')
})
