import t from 'tap'
import { FrameHistory, type InboundFrame } from '../../lib/media/stream/inbound.ts'

/** The pre-roll history: the last frames, oldest first, as copies; nothing kept by reference. */

function frame (seq: number, length = 160, rate: 8000 | 16000 = 8000): InboundFrame {
  return { samples: Int16Array.from({ length }, (_, i) => seq * 1000 + i), sampleRate: rate, seq, mediaMs: seq * 20, receivedAt: 5000 + seq * 20.5 }
}

t.test('keeps the last frames, oldest first, with their timing', async (t) => {
  const h = new FrameHistory(3)
  t.same(h.frames(), [], 'empty before the first frame')
  for (let i = 0; i < 5; i++) h.push(frame(i))
  t.equal(h.length, 3)
  const kept = h.frames()
  t.same(kept.map((f) => f.seq), [2, 3, 4])
  t.same(kept.map((f) => f.mediaMs), [40, 60, 80])
  t.same(kept.map((f) => f.receivedAt), [5041, 5061.5, 5082])
  t.same(Array.from(kept[0]?.samples ?? []), Array.from(frame(2).samples))
  t.equal(kept[0]?.sampleRate, 8000)
})

t.test('frames are copies: the datagram or a later push cannot change them', async (t) => {
  const h = new FrameHistory(2)
  const f = frame(1)
  h.push(f)
  f.samples.fill(0)
  const kept = h.frames()
  t.equal(kept[0]?.samples[5], 1005, 'what was pushed, not the source as it is now')
  h.push(frame(2))
  h.push(frame(3))
  t.equal(kept[0]?.samples[5], 1005, 'frames handed out survive the ring moving on')
})

t.test('a longer frame re-lays the slots and keeps what was there; clear empties', async (t) => {
  const h = new FrameHistory(3)
  h.push(frame(1))
  h.push(frame(2, 320, 16000))
  h.push(frame(3, 80))
  const kept = h.frames()
  t.same(kept.map((f) => f.samples.length), [160, 320, 80])
  t.same(Array.from(kept[0]?.samples.subarray(0, 3) ?? []), [1000, 1001, 1002])
  t.equal(kept[1]?.samples[319], 2319)
  h.clear()
  t.equal(h.length, 0)
  t.same(h.frames(), [])
  h.push(frame(9))
  t.same(h.frames().map((f) => f.seq), [9])
})
