import t from 'tap'
import { SileroRunner } from '../../lib/media/vad/silero-runner.ts'
import { STATE_SIZE } from '../../lib/media/vad/silero-model.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { FakeSileroModel } from './silero-fake.ts'

// The batch runner on a fake model: shapes, per-call state, slots, timers.

const WIDTH_8K = 256 + 32

function window (marker: number, width = WIDTH_8K): Float32Array {
  const w = new Float32Array(width)
  w[0] = marker
  return w
}

t.test('N calls with a window each: one inference per tick with [N, 288] input and [2, N, 128] state', async (t) => {
  const model = new FakeSileroModel()
  const runner = new SileroRunner({ model, autoTick: false })
  const streams = Array.from({ length: 5 }, () => runner.open(8000))
  streams.forEach((s, i) => { s.submit(window(i + 1)) })
  t.equal(runner.slots, 5)
  await runner.tick()
  t.equal(model.calls.length, 1, 'one model call for five calls')
  const call = model.calls[0]!
  t.same([call.batch, call.width, call.rate], [5, WIDTH_8K, 8000])
  t.equal(call.input.length, 5 * WIDTH_8K)
  t.equal(call.state.length, 2 * 5 * STATE_SIZE)
  t.same(Array.from({ length: 5 }, (_, i) => call.input[i * WIDTH_8K]), [1, 2, 3, 4, 5], 'row i is call i\'s window')
  streams.forEach((s) => { t.equal(s.takeResults().length, 1, 'each call gets its probability') })
  t.same(runner.stats, { inferences: 1, rows: 5, maxBatch: 5, lastBatch: 5, busyTicks: 0, dropped: 0, errors: 0 })
  await runner.tick()
  t.equal(model.calls.length, 1, 'no window waiting: no inference at all')
  await runner.close()
  t.ok(model.closed)
})

t.test('each call keeps its own state across ticks, whoever else is in the batch', async (t) => {
  const model = new FakeSileroModel()
  const runner = new SileroRunner({ model, autoTick: false })
  const a = runner.open(8000)
  const b = runner.open(8000)
  const c = runner.open(8000)
  a.submit(window(0.1))
  b.submit(window(0.2))
  await runner.tick() // a, b
  c.submit(window(0.3))
  a.submit(window(0.4))
  await runner.tick() // a, c (b has nothing)
  b.submit(window(0.5))
  c.submit(window(0.6))
  a.submit(window(0.7))
  await runner.tick() // a, b, c
  // Layer 0 counts a call's windows; layer 1 holds the first sample of its last window.
  t.same([a.state[0], b.state[0], c.state[0]], [3, 2, 2])
  t.same([a.state[STATE_SIZE], b.state[STATE_SIZE], c.state[STATE_SIZE]].map((v) => Math.round((v as number) * 10) / 10), [0.7, 0.5, 0.6])
  // The third inference was fed each call's own state, in its row.
  const third = model.calls[2]!
  const n = third.batch
  const rows = [0, 1, 2].map((i) => [third.state[i * STATE_SIZE], Math.round((third.state[n * STATE_SIZE + i * STATE_SIZE] as number) * 10) / 10])
  t.same(rows.sort(), [[1, 0.2], [1, 0.3], [2, 0.4]].sort(), 'states gathered per call: [2, N, 128]')
  await runner.close()
})

t.test('a call leaving frees its slot; one going quiet gives it back and restarts from a fresh state', async (t) => {
  const model = new FakeSileroModel()
  const runner = new SileroRunner({ model, autoTick: false })
  const a = runner.open(8000)
  const b = runner.open(8000)
  a.submit(window(1))
  b.submit(window(2))
  b.close()
  t.equal(runner.slots, 1, 'closed: slot freed at once')
  await runner.tick()
  t.equal(model.calls[0]!.batch, 1, 'the closed call is not in the batch')
  t.same(b.takeResults(), [], 'and gets nothing')
  t.equal(a.state[0], 1)
  a.submit(window(3))
  a.release()
  t.equal(runner.slots, 1, 'a window still waiting keeps the slot')
  await runner.tick()
  t.equal(runner.slots, 0, 'released once drained')
  t.equal(a.state.every((v) => v === 0), true, 'state reset for the next stretch')
  t.equal(a.takeResults().length, 2)
  await runner.close()
})

t.test('a detector abandoned mid-speech loses its slot after the idle time', async (t) => {
  const runner = new SileroRunner({ model: new FakeSileroModel(), autoTick: false, tickMs: 20, idleEvictMs: 100 })
  const a = runner.open(8000)
  a.submit(window(1)) // at tick 0
  for (let i = 0; i < 5; i++) await runner.tick() // 100 ms since the last window
  t.equal(runner.slots, 1, 'still held within the idle time')
  await runner.tick()
  t.equal(runner.slots, 0, 'evicted after it')
  await runner.close()
})

t.test('calls at 8 and 16 kHz: one inference per rate per tick', async (t) => {
  const model = new FakeSileroModel()
  const runner = new SileroRunner({ model, autoTick: false })
  runner.open(8000).submit(window(1))
  runner.open(16000).submit(window(2, 512 + 64))
  runner.open(16000).submit(window(3, 512 + 64))
  await runner.tick()
  t.same(model.calls.map((c) => [c.rate, c.batch, c.width]).sort(), [[16000, 2, 576], [8000, 1, 288]])
  t.throws(() => runner.open(44100), /8000 or 16000/)
  await runner.close()
})

t.test('a backlog beyond maxBacklog drops the oldest windows; a failed inference is reported once', async (t) => {
  const model = new FakeSileroModel()
  const errors: unknown[] = []
  const runner = new SileroRunner({ model, autoTick: false, maxBacklog: 2, onError: (e) => errors.push(e) })
  const a = runner.open(8000)
  for (let i = 0; i < 4; i++) a.submit(window(i))
  t.equal(runner.stats.dropped, 2)
  t.same(a.takeResults().map(Number.isNaN), [true, true], 'dropped windows come back unjudged, in order')
  model.failNext = 2
  await runner.tick()
  await runner.tick()
  t.equal(errors.length, 1, 'reported once')
  t.equal(runner.stats.errors, 2)
  t.same(a.takeResults().map(Number.isNaN), [true, true])
  await runner.close()
})

t.test('the tick timer exists only while a call holds a slot: no timers left', async (t) => {
  const baseline = resources()
  const model = new FakeSileroModel()
  const runner = new SileroRunner({ model, tickMs: 5 })
  const a = runner.open(8000)
  t.equal(runner.timerActive, false, 'no slot, no timer')
  a.submit(window(1))
  t.equal(runner.timerActive, true)
  for (let i = 0; i < 50 && a.outstanding > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(a.takeResults().length, 1, 'the timer ticked the window through')
  a.release()
  t.equal(runner.timerActive, false, 'released: timer cleared')
  const b = runner.open(8000)
  b.submit(window(2))
  t.equal(runner.timerActive, true)
  b.close()
  t.equal(runner.timerActive, false, 'closed: timer cleared')
  await runner.close()
  t.same(await leaksSince(baseline, ['Timeout', 'Immediate']), {})
})

t.test('on the media\'s frame clock: subscribed while a call holds a slot, one inference per tick', async (t) => {
  const subscribers = new Set<{ onTick (frames: number, now: number): void }>()
  const ticker = { add: (s: { onTick (frames: number, now: number): void }) => { subscribers.add(s); return () => { subscribers.delete(s) } } }
  const model = new FakeSileroModel()
  const runner = new SileroRunner({ model, ticker })
  const a = runner.open(8000)
  const b = runner.open(8000)
  t.equal(subscribers.size, 0, 'idle: not subscribed')
  a.submit(window(1))
  b.submit(window(2))
  t.equal(subscribers.size, 1, 'one subscription for all calls')
  for (const s of subscribers) s.onTick(1, 0)
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(model.calls.map((c) => c.batch), [2], 'the frame tick ran one inference for both calls')
  a.close()
  b.close()
  t.equal(subscribers.size, 0, 'unsubscribed with the last slot')
  await runner.close()
})

t.test('a tick that finds the last inference still running is run as soon as it ends', async (t) => {
  const model = new FakeSileroModel()
  const runner = new SileroRunner({ model, autoTick: false })
  const a = runner.open(8000)
  a.submit(window(1))
  a.submit(window(2))
  const first = runner.tick()
  const second = runner.tick() // the first is still awaiting the model
  await second
  t.equal(runner.stats.busyTicks, 1)
  await first
  t.equal(model.calls.length, 2, 'the missed tick ran right after: the second window did not wait a tick more')
  t.equal(a.takeResults().length, 2)
  await runner.close()
})
