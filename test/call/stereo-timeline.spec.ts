import t, { type Test } from 'tap'
import { StereoTimeline } from '../../lib/call/recording/stereo.ts'

const N = 160
const frame = (value: number, n = N): Int16Array => new Int16Array(n).fill(value)

/** Drives a timeline and returns the written stereo as [left, right] per 20 ms slot (the value of its first sample). */
function run (t: Test, drive: (tl: StereoTimeline) => void): Array<[number, number]> {
  const chunks: Int16Array[] = []
  const tl = new StereoTimeline(8000, (s) => { chunks.push(s) })
  drive(tl)
  tl.finish()
  const all = new Int16Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) { all.set(c, at); at += c.length }
  const slots: Array<[number, number]> = []
  for (let i = 0; i + 2 * N <= all.length; i += 2 * N) slots.push([all[i] as number, all[i + 1] as number])
  t.equal(all.length % 2, 0, 'whole sample pairs')
  return slots
}

t.test('the caller\'s frames keep their own spacing whatever their arrival jitter', async (t) => {
  const slots = run(t, (tl) => {
    tl.agent(frame(100))
    tl.caller(frame(1), 0) // anchored at slot 1
    tl.agent(frame(101))
    tl.agent(frame(102))
    tl.caller(frame(2), N) // a frame late: still slot 2
    tl.caller(frame(3), 2 * N) // and the next on time: slot 3
    tl.agent(frame(103))
    tl.agent(frame(104))
  })
  t.same(slots, [[0, 100], [1, 101], [2, 102], [3, 103], [0, 104]])
})

t.test('a slot with no audio from one side is silence on that channel', async (t) => {
  const slots = run(t, (tl) => {
    tl.caller(frame(7), 0)
    tl.caller(frame(8), 3 * N) // the caller's stream paused for two frames
    for (let i = 0; i < 5; i++) tl.agent(frame(0))
  })
  t.same(slots.map(([l]) => l), [7, 0, 0, 8, 0])
})

t.test('a caller frame later than the hold-back re-anchors at the present slot; nothing is lost or doubled', async (t) => {
  const slots = run(t, (tl) => {
    tl.caller(frame(1), 0)
    for (let i = 0; i < 10; i++) tl.agent(frame(50))
    tl.caller(frame(2), N) // 9 slots late: placed at slot 10
    tl.agent(frame(50))
  })
  t.equal(slots.length, 11)
  t.same(slots.filter(([l]) => l !== 0).map(([l]) => l), [1, 2])
  t.same(slots[10], [2, 50])
})

t.test('frames of another size (30 ms) and a stall caught up at once stay in order', async (t) => {
  const slots = run(t, (tl) => {
    for (let i = 0; i < 60; i++) tl.agent(frame(i + 1)) // a stall of 60 frames sent in one tick
    tl.caller(frame(9, 240), 0)
  })
  t.same(slots.slice(0, 60).map(([, r]) => r), Array.from({ length: 60 }, (_, i) => i + 1), 'every agent frame, in order')
  t.same(slots.slice(60).map(([l]) => l), [9], 'the caller frame after them (its tail is in the last half slot)')
})

t.test('our side more than the buffer behind the caller (a stall, idle frames not sent): no caller audio is overwritten', async (t) => {
  const slots = run(t, (tl) => {
    tl.agent(frame(500))
    for (let i = 0; i < 80; i++) tl.caller(frame(i + 1), i * N) // 1.6 s of the caller, nothing sent by us
    for (let i = 0; i < 10; i++) tl.agent(frame(600 + i))
  })
  t.same(slots.map(([l]) => l).filter((l) => l !== 0), Array.from({ length: 80 }, (_, i) => i + 1), 'every caller frame once, in order')
  t.same(slots.map(([, r]) => r).filter((r) => r !== 0), [500, ...Array.from({ length: 10 }, (_, i) => 600 + i)], 'every frame of ours once, in order')
  t.equal(slots[0]?.[1], 500)
})
