import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { OutboundQueue } from '../../lib/media/stream/outbound.ts'
import { silenceFrame } from '../../lib/media/stream/frame.ts'

function ramp (n: number, start = 1): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => start + i)
}

function samplesOf (frame: Buffer): Int16Array {
  return new Int16Array(frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.length))
}

t.test('silence while idle, the shared silence frame', async (t) => {
  const q = new OutboundQueue(8000)
  const f = q.nextFrame(0)
  t.equal(f, silenceFrame(8000))
  t.equal(f.length, 320)
  t.ok(q.idle)
})

t.test('frames run across items; the last partial frame is padded; done carries the send time', async (t) => {
  const q = new OutboundQueue(8000)
  const a = q.enqueue(ramp(200, 1)) // 1.25 frames
  const b = q.enqueue(ramp(100, 1000)) // ends inside frame 2
  t.equal(a.totalMs, 25)
  t.equal(q.queuedMs, 37.5)
  const f1 = samplesOf(q.nextFrame(100))
  t.same(Array.from(f1.subarray(0, 3)), [1, 2, 3])
  const f2 = samplesOf(q.nextFrame(120))
  t.same(Array.from(f2.subarray(0, 2)), [161, 162], 'item a continues')
  t.same(Array.from(f2.subarray(40, 42)), [1000, 1001], 'item b follows in the same frame, no gap')
  t.equal(f2[139], 1099)
  t.equal(f2[140], 0, 'padded after the queue ran dry')
  const ra = await a.done
  const rb = await b.done
  t.match(ra, { status: 'sent', sentSamples: 200, totalSamples: 200, sentMs: 25, lastSentAt: 120 })
  t.match(rb, { status: 'sent', sentMs: 12.5, lastSentAt: 120 })
  t.ok(q.idle)
  t.equal(q.nextFrame(140), silenceFrame(8000))
})

t.test('clear() drops everything and reports what was sent of each item', async (t) => {
  const q = new OutboundQueue(16000)
  const a = q.enqueue(ramp(16000)) // 1 s
  const b = q.enqueue(ramp(8000))
  for (let i = 0; i < 10; i++) q.nextFrame(i * 20)
  const results = q.clear()
  t.equal(results.length, 2)
  t.match(results[0], { id: a.id, status: 'cleared', sentMs: 200, totalMs: 1000, lastSentAt: 180 })
  t.match(results[1], { id: b.id, status: 'cleared', sentMs: 0, totalMs: 500, lastSentAt: undefined })
  t.same(await a.done, results[0], 'the playout promise settles with the same report')
  t.equal((await b.done).status, 'cleared')
  t.equal(q.nextFrame(200), silenceFrame(16000), 'the very next frame is silence')
  t.equal(q.queuedMs, 0)
})

t.test('close() settles queued and later items as closed', async (t) => {
  const q = new OutboundQueue(8000)
  const a = q.enqueue(ramp(800))
  q.close()
  t.equal((await a.done).status, 'closed')
  const late = q.enqueue(ramp(10))
  t.equal((await late.done).status, 'closed')
  t.ok(q.idle)
})

t.test('an empty item is sent at once', async (t) => {
  const q = new OutboundQueue(8000)
  t.match(await q.enqueue(new Int16Array(0)).done, { status: 'sent', totalMs: 0 })
})

t.test('enqueueConverted: a 10 s sentence at 24 kHz converted a slice per task; frames equal resample()', async (t) => {
  const { resample } = await import('../../lib/media/resample.ts')
  const { setImmediate: nextTask } = await import('node:timers/promises')
  const input = Int16Array.from({ length: 240_000 }, (_, i) => Math.round(8000 * Math.sin(i / 7) + 3000 * Math.sin(i / 2.3)))
  const q = new OutboundQueue(8000)
  const errors: unknown[] = []
  const playout = q.enqueueConverted(input, 24000, undefined, (err) => { errors.push(err) })
  t.equal(playout.totalMs, 10_000)
  // Before any task has run only the first slice (100 ms of input) is converted: the frames run
  // out inside it (padded with silence) and the item waits for the next slice.
  const early: Int16Array[] = []
  for (let i = 0; i < 6; i++) early.push(samplesOf(q.nextFrame(i * 20)))
  const consumedEarly = 80_000 - Math.round(q.queuedMs * 8)
  t.ok(consumedEarly > 700 && consumedEarly < 800, `about 100 ms ready at once (${consumedEarly} samples)`)
  t.ok(early[5]?.every((v) => v === 0), 'then silence: the rest is converted in later tasks')
  let tasks = 0
  let settled = false
  void playout.done.then(() => { settled = true })
  // One frame per task: after 50 tasks the conversion (100 slices) is still under way.
  const middle: Int16Array[] = []
  for (; tasks < 50; tasks++) {
    await nextTask()
    middle.push(samplesOf(q.nextFrame(0)))
  }
  t.ok(middle.every((f) => f.some((v) => v !== 0)), 'no frame starved while the conversion keeps ahead of one frame per task')
  for (let i = 0; i < 200; i++) await nextTask()
  const rest: Int16Array[] = []
  while (!settled && rest.length < 1000) {
    rest.push(samplesOf(q.nextFrame(0)))
    await Promise.resolve()
  }
  t.same(errors, [])
  const played = [...Array.from(early.flatMap((f) => Array.from(f))).slice(0, consumedEarly), ...middle.flatMap((f) => Array.from(f)), ...rest.flatMap((f) => Array.from(f))]
  const expected = resample(input, 24000, 8000)
  let diff = -1
  for (let i = 0; i < expected.length; i++) if (played[i] !== expected[i]) { diff = i; break }
  t.equal(diff, -1, 'identical audio')
})

t.test('a reply that has played out is not kept alive by the frames remembered for unsend', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const q = new OutboundQueue(8000)
  // Made in a function of its own: the test holds only the WeakRef.
  const ref = ((): WeakRef<Int16Array> => {
    const samples = ramp(400)
    q.enqueue(samples)
    return new WeakRef(samples)
  })()
  q.nextFrame(0)
  q.nextFrame(20)
  q.nextFrame(40) // its last 80 samples: the item settles
  t.ok(q.empty)
  // A WeakRef keeps its target until the job that made or read it is over.
  await new Promise((resolve) => setImmediate(resolve))
  gc()
  t.equal(ref.deref(), undefined, 'collected while the queue itself lives on (no idle frame sent since)')
  t.ok(q.unsend(0), 'the queue still works')
  t.equal(q.nextFrame(60), silenceFrame(8000))
})
