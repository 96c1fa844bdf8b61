import t, { type Test } from 'tap'
import { FrameHistory, type InboundFrame } from '../../lib/media/stream/inbound.ts'
import { alawToLinear, linearToAlaw } from '../../lib/simulator/g711.ts'

/**
 * The pre-roll history on a G.711 line holds a byte per sample (issue 18, memory per call), and
 * whatever the line sends, frames() gives back exactly the frames pushed.
 */

/** A frame as a PCMA call's L16 carries it; `pause`: the all-0xFF frame of a gap in the caller's RTP. */
function frame (seq: number, kind: 'alaw' | 'pause' | 'wide' = 'alaw', level = 3000): InboundFrame {
  const samples = kind === 'pause'
    ? new Int16Array(160).fill(-1)
    : Int16Array.from({ length: 160 }, (_, i) => {
      const v = Math.round(level * Math.sin((seq * 160 + i) * 0.37))
      return kind === 'alaw' ? alawToLinear(linearToAlaw(v)) : v | 1
    })
  return { samples, sampleRate: 8000, seq, mediaMs: seq * 20, receivedAt: seq * 20 }
}

/** frames() is exactly the last `length` frames pushed. */
function holdsExactly (t: Test, h: FrameHistory, pushed: readonly InboundFrame[], what: string): void {
  const want = pushed.slice(pushed.length - h.length)
  const got = h.frames()
  t.same(got.map((f) => f.seq), want.map((f) => f.seq), `${what}: the frames`)
  t.ok(got.every((f, i) => Buffer.from(f.samples.buffer).equals(Buffer.from((want[i] as InboundFrame).samples.buffer))), `${what}: every sample`)
}

t.test('a PCMA line: a byte per sample, read back exactly', async (t) => {
  const h = new FrameHistory(20)
  const pushed = Array.from({ length: 30 }, (_, i) => frame(i))
  for (const f of pushed) h.push(f)
  t.equal(h.slotBytes, 20 * 160, 'codes: 3.2 KB, not 6.4')
  holdsExactly(t, h, pushed, 'coded')
})

t.test('a pause in the RTP turns the slots into samples until every frame held is exact again', async (t) => {
  const h = new FrameHistory(10)
  const pushed: InboundFrame[] = []
  const push = (f: InboundFrame): void => { pushed.push(f); h.push(f) }
  for (let i = 0; i < 12; i++) push(frame(i))
  t.equal(h.slotBytes, 10 * 160)
  push(frame(12, 'pause'))
  t.equal(h.slotBytes, 10 * 320, '16-bit while the pause frame is held')
  holdsExactly(t, h, pushed, 'after the pause')
  for (let i = 13; i < 22; i++) push(frame(i))
  t.equal(h.slotBytes, 10 * 320, 'the pause frame is still held')
  holdsExactly(t, h, pushed, 'pause still held')
  push(frame(22))
  t.equal(h.slotBytes, 10 * 160, 'codes again once it is gone')
  holdsExactly(t, h, pushed, 'codes again')
})

t.test('0xFF frames before the first RTP, then speech: samples, then codes', async (t) => {
  const h = new FrameHistory(5)
  const pushed = [...[0, 1, 2].map((i) => frame(i, 'pause')), ...Array.from({ length: 8 }, (_, i) => frame(i + 3))]
  for (const f of pushed) h.push(f)
  t.equal(h.slotBytes, 5 * 160)
  holdsExactly(t, h, pushed, 'after the pauses')
})

t.test('a line that is not G.711 keeps 16-bit samples', async (t) => {
  const h = new FrameHistory(5)
  const pushed = Array.from({ length: 8 }, (_, i) => frame(i, 'wide'))
  for (const f of pushed) h.push(f)
  t.equal(h.slotBytes, 5 * 320)
  holdsExactly(t, h, pushed, 'wide')
})

t.test('growing to the capacity at a loud frame and settling back keep the codes and the frames', async (t) => {
  const h = new FrameHistory(40, { quietFrames: 10, loudPeak: 2000, holdFrames: 5 })
  const pushed: InboundFrame[] = []
  const push = (f: InboundFrame): void => { pushed.push(f); h.push(f) }
  for (let i = 0; i < 15; i++) push(frame(i, 'alaw', 100))
  t.equal(h.slotBytes, 10 * 160)
  for (let i = 15; i < 30; i++) push(frame(i, 'alaw', 8000))
  t.equal(h.slotBytes, 40 * 160, 'the capacity, in codes')
  holdsExactly(t, h, pushed, 'grown')
  h.settle()
  t.equal(h.slotBytes, 10 * 160)
  holdsExactly(t, h, pushed, 'settled')
})

t.test('any mix of frames, loud and quiet, exact or not, settles and expects: always exactly what was pushed', async (t) => {
  let seed = 7
  const random = (): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 }
  const h = new FrameHistory(30, { quietFrames: 8, loudPeak: 2000, holdFrames: 6 })
  const pushed: InboundFrame[] = []
  let bad = 0
  for (let i = 0; i < 2000; i++) {
    const r = random()
    const f = frame(i, r < 0.05 ? 'pause' : r < 0.08 ? 'wide' : 'alaw', random() < 0.3 ? 8000 : 200)
    pushed.push(f)
    h.push(f)
    if (random() < 0.02) h.settle()
    if (random() < 0.02) h.expect()
    const want = pushed.slice(pushed.length - h.length)
    const got = h.frames()
    if (got.length !== want.length || !got.every((g, k) => g.seq === (want[k] as InboundFrame).seq && Buffer.from(g.samples.buffer).equals(Buffer.from((want[k] as InboundFrame).samples.buffer)))) bad++
  }
  t.equal(bad, 0, 'frames() matched the frames pushed after each of 2000 pushes')
})
