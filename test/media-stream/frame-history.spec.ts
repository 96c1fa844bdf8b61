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

/** A frame of a quiet line (every sample below the loud peak) or with one loud sample. */
function lineFrame (seq: number, loud: boolean): InboundFrame {
  const samples = Int16Array.from({ length: 160 }, (_, i) => (i % 7) - 3)
  if (loud) samples[80] = -200
  samples[0] = seq
  return { samples, sampleRate: 8000, seq, mediaMs: seq * 20, receivedAt: seq * 20 }
}

t.test('on a quiet line only the pre-roll is kept; a loud frame keeps the full capacity until the hold has passed', async (t) => {
  const h = new FrameHistory(8, { quietFrames: 3, loudPeak: 200, holdFrames: 6 })
  for (let i = 0; i < 6; i++) h.push(lineFrame(i, false))
  t.same(h.frames().map((f) => f.seq), [3, 4, 5], 'a quiet line: the last quietFrames frames')
  h.push(lineFrame(6, true))
  for (let i = 7; i < 10; i++) h.push(lineFrame(i, false))
  t.same(h.frames().map((f) => f.seq), [3, 4, 5, 6, 7, 8, 9], 'after a loud frame (-200: a peak counts either way) the frames before it are kept and nothing is dropped')
  t.same(h.frames().map((f) => f.samples[0]), [3, 4, 5, 6, 7, 8, 9], 'each frame keeps its own samples across the growth')
  t.equal(h.frames()[3]?.samples[80], -200)
  for (let i = 10; i < 12; i++) h.push(lineFrame(i, false))
  t.same(h.frames().map((f) => f.seq), [4, 5, 6, 7, 8, 9, 10, 11], 'within the hold, the full capacity (the oldest frames go as usual)')
  h.push(lineFrame(12, false))
  t.same(h.frames().map((f) => f.seq), [10, 11, 12], 'holdFrames after the last loud frame it shrinks back to the newest frames')
  t.same(h.frames().map((f) => f.receivedAt), [200, 220, 240], 'with their timing')
  h.push(lineFrame(13, false))
  t.same(h.frames().map((f) => f.seq), [11, 12, 13], 'and goes on as a small ring')
})

t.test('what an onset needs is there as with the full capacity always: from its pre-roll on, the same frames', async (t) => {
  const full = new FrameHistory(20)
  const lean = new FrameHistory(20, { quietFrames: 4, loudPeak: 100, holdFrames: 20 })
  // Quiet, then a loud burst every 3rd frame (voicing with gaps), then quiet.
  const pattern = [...Array(30).fill(false), ...Array.from({ length: 15 }, (_, i) => i % 3 === 0), ...Array(10).fill(false)] as boolean[]
  for (const [i, loud] of pattern.entries()) {
    full.push(lineFrame(i, loud))
    lean.push(lineFrame(i, loud))
    const firstLoud = pattern.indexOf(true)
    if (i < firstLoud) continue
    // An onset at the first loud frame with a 3-frame pre-roll: the frames from there to now.
    const from = (firstLoud - 3) * 20
    const want = full.frames().filter((f) => f.mediaMs >= from)
    if (i - firstLoud + 3 >= 20) break // past the full capacity: no onset could reach back that far
    t.same(lean.frames().filter((f) => f.mediaMs >= from).map((f) => Array.from(f.samples)), want.map((f) => Array.from(f.samples)), `frame ${i}`)
  }
})

t.test('settled, only the pre-roll is kept whatever the line does; expect() brings the full capacity back at the next loud frame', async (t) => {
  const h = new FrameHistory(8, { quietFrames: 3, loudPeak: 200, holdFrames: 6 })
  for (let i = 0; i < 4; i++) h.push(lineFrame(i, true))
  t.same(h.frames().map((f) => f.seq), [0, 1, 2, 3], 'a detector may confirm: loud frames keep everything')
  h.settle()
  t.same(h.frames().map((f) => f.seq), [1, 2, 3], 'settled: the newest pre-roll at once')
  for (let i = 4; i < 9; i++) h.push(lineFrame(i, true))
  t.same(h.frames().map((f) => f.seq), [6, 7, 8], 'loud frames no longer grow it (the caller goes on speaking)')
  h.expect()
  for (let i = 9; i < 11; i++) h.push(lineFrame(i, false))
  t.same(h.frames().map((f) => f.seq), [8, 9, 10], 'expecting, a quiet line still keeps the pre-roll alone')
  h.push(lineFrame(11, true))
  for (let i = 12; i < 15; i++) h.push(lineFrame(i, false))
  t.same(h.frames().map((f) => f.seq), [8, 9, 10, 11, 12, 13, 14], 'and a loud frame keeps the full capacity again, from the pre-roll before it')
  t.same(h.frames().map((f) => f.receivedAt), [160, 180, 200, 220, 240, 260, 280], 'with their timing across the re-layouts')
  const fresh = new FrameHistory(8, { quietFrames: 3, loudPeak: 200, holdFrames: 6 })
  fresh.settle()
  fresh.expect()
  for (let i = 0; i < 8; i++) fresh.push(lineFrame(i, true))
  t.same(fresh.frames().map((f) => f.seq), [0, 1, 2, 3, 4, 5, 6, 7], 'settled and expecting before the first frame: the full capacity on a loud line')
})

t.test('an onset confirmed by a detector started after settle() finds its pre-roll as with the full capacity always', async (t) => {
  const full = new FrameHistory(20)
  const lean = new FrameHistory(20, { quietFrames: 4, loudPeak: 100, holdFrames: 20 })
  // The caller speaks throughout; the first detector confirmed at frame 10 and took its frames.
  for (let i = 0; i < 10; i++) { full.push(lineFrame(i, true)); lean.push(lineFrame(i, true)) }
  lean.frames()
  lean.settle()
  for (let i = 10; i < 40; i++) { full.push(lineFrame(i, true)); lean.push(lineFrame(i, true)) }
  // A new detector starts at frame 40 and confirms an onset at its first frame, up to 15 frames later.
  lean.expect()
  for (let i = 40; i < 56; i++) {
    full.push(lineFrame(i, true))
    lean.push(lineFrame(i, true))
    // Onset at frame 40 with a 3-frame pre-roll (the quiet ring's 4 frames have one to spare).
    const from = (40 - 3) * 20
    t.same(lean.frames().filter((f) => f.mediaMs >= from).map((f) => Array.from(f.samples)), full.frames().filter((f) => f.mediaMs >= from).map((f) => Array.from(f.samples)), `frame ${i}`)
  }
})
