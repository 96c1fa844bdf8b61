import t from 'tap'
import { FrameCutter } from '../../lib/media/stream/frame-cutter.ts'

/** `count` samples counting up from `from`. */
const ramp = (count: number, from: number): Int16Array => Int16Array.from({ length: count }, (_, i) => from + i)

function cutAll (frame: number, packets: Int16Array[]): Int16Array[] {
  const cutter = new FrameCutter(frame)
  const out: Int16Array[] = []
  for (const p of packets) cutter.cut(p, (f) => { out.push(f) })
  return out
}

t.test('30 ms packets: three 20 ms frames every two packets, every sample once and in order', async (t) => {
  const packets = Array.from({ length: 4 }, (_, i) => ramp(240, 1 + i * 240))
  const frames = cutAll(160, packets)
  t.equal(frames.length, 6)
  t.ok(frames.every((f) => f.length === 160))
  t.same(frames.flatMap((f) => Array.from(f)), Array.from({ length: 960 }, (_, i) => 1 + i))
  t.equal(frames[0]?.buffer, packets[0]?.buffer, 'a frame inside one packet is a view of it, not a copy')
  t.not(frames[1]?.buffer, packets[0]?.buffer, 'a frame across two packets is its own array')
})

t.test('10 ms packets are joined; 40 and 60 ms packets are cut in place; 20 ms pass as they are', async (t) => {
  t.same(cutAll(160, [ramp(80, 1), ramp(80, 81), ramp(80, 161)]).map((f) => [f.length, f[0]]), [[160, 1]], 'the third half waits')
  t.same(cutAll(160, [ramp(320, 1)]).map((f) => f[0]), [1, 161])
  t.same(cutAll(320, [ramp(960, 1)]).map((f) => [f.length, f[0]]), [[320, 1], [320, 321], [320, 641]], '16 kHz, 60 ms')
  const twenty = ramp(160, 1)
  t.same(Array.from(cutAll(160, [twenty])[0] ?? []), Array.from(twenty))
})
