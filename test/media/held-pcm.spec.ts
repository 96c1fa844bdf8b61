import t from 'tap'
import { g711Laws, isExact } from '../../lib/media/g711.ts'
import { HeldPcm } from '../../lib/media/held-pcm.ts'
import { alawToLinear, linearToAlaw } from '../../lib/simulator/g711.ts'

const [ALAW, ULAW] = g711Laws() as [NonNullable<ReturnType<typeof g711Laws>[0]>, NonNullable<ReturnType<typeof g711Laws>[0]>]

/** A 20 ms frame at 8 kHz of a tone, as a PCMA line's L16 carries it: every sample an A-law value. */
function alawFrame (seq: number, level = 8000): Int16Array {
  return Int16Array.from({ length: 160 }, (_, i) => alawToLinear(linearToAlaw(Math.round(level * Math.sin((seq * 160 + i) * 0.3)))))
}

const bytesOf = (frames: readonly Int16Array[]): Buffer => Buffer.concat(frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)))

t.test('the A-law table: the reference values, and the simulator\'s encoder (the classic coder) gives each code back', async (t) => {
  // alaw_to_linear (g711.h) of a few codes, worked by hand: the smallest and largest magnitudes.
  t.equal(ALAW.values[0xd5], 8)
  t.equal(ALAW.values[0x55], -8)
  t.equal(ALAW.values[0xaa], 32256)
  t.equal(ALAW.values[0x2a], -32256)
  for (let c = 0; c < 256; c++) t.equal(linearToAlaw(ALAW.values[c] as number), c, `code ${c}`, { diagnostic: false })
  t.equal(new Set(ALAW.values).size, 256, 'A-law: 256 distinct values, no zero')
  t.notOk(ALAW.values.includes(0))
})

t.test('the μ-law table: the reference values, and each code stands for its value', async (t) => {
  // ulaw_to_linear (g711.h) of a few codes, worked by hand: 0xff and 0x7f are the two zeros.
  t.equal(ULAW.values[0xff], 0)
  t.equal(ULAW.values[0x7f], 0)
  t.equal(ULAW.values[0x00], -32124)
  t.equal(ULAW.values[0x80], 32124)
  t.equal(ULAW.values[0xfe], 8)
  t.equal(ULAW.values[0x7e], -8)
  for (const law of [ALAW, ULAW]) {
    for (let c = 0; c < 256; c++) {
      const v = law.values[c] as number
      t.equal(law.values[(law.codes[v & 0xffff] as number) - 1], v, `${law.name} ${c}`, { diagnostic: false })
    }
  }
})

t.test('isExact: a frame of the law\'s values, and one sample off', async (t) => {
  const frame = alawFrame(0)
  t.ok(isExact(ALAW, frame))
  frame[77] = (frame[77] as number) + 1
  t.notOk(isExact(ALAW, frame))
  t.notOk(isExact(ALAW, new Int16Array(160).fill(-1)), 'a 0xFF frame (a pause in the caller\'s RTP) is not A-law')
  t.notOk(isExact(ULAW, new Int16Array(160).fill(-1)), 'nor μ-law')
})

t.test('a PCMA line is held at a byte per sample and read back exactly', async (t) => {
  const held = new HeldPcm({ compand: true })
  const frames = Array.from({ length: 60 }, (_, i) => alawFrame(i))
  for (const f of frames) t.equal(held.append(f), undefined, 'no 16-bit copy to view', { diagnostic: false })
  t.equal(held.law, 'alaw')
  t.equal(held.length, 60 * 320)
  const whole = bytesOf(frames)
  t.ok(held.pcm().equals(whole), 'the same bytes')
  t.ok(held.pcm(1000).equals(whole.subarray(0, 1000)), 'the start, when capped')
  t.ok(held.pcm(1001).equals(whole.subarray(0, 1000)), 'whole samples only')
  const chunks = [...held.chunks(1600)]
  t.same(chunks.map((c) => c.length), [...new Array(12).fill(1600)])
  t.ok(Buffer.concat(chunks).equals(whole))
})

t.test('a μ-law line too; the first frame picks the law', async (t) => {
  const held = new HeldPcm({ compand: true })
  const frames = Array.from({ length: 5 }, (_, i) => Int16Array.from({ length: 160 }, (_, k) => ULAW.values[(i * 160 + k) % 256] as number))
  for (const f of frames) held.append(f)
  t.equal(held.law, 'ulaw')
  t.ok(held.pcm().equals(bytesOf(frames)))
})

t.test('a sample that is no G.711 value turns everything held into 16-bit samples, nothing lost', async (t) => {
  const held = new HeldPcm({ compand: true })
  const frames = Array.from({ length: 30 }, (_, i) => alawFrame(i))
  for (const f of frames.slice(0, 20)) held.append(f)
  const odd = alawFrame(20)
  odd[3] = 12345
  frames[20] = odd
  const view = held.append(odd)
  t.equal(held.law, undefined, 'held as 16-bit samples from now on')
  t.ok(view !== undefined && view.equals(bytesOf([odd])), 'a view of the copy')
  for (const f of frames.slice(21)) t.not(held.append(f), undefined, 'stays 16-bit, even for exact frames', { diagnostic: false })
  t.ok(held.pcm().equals(bytesOf(frames)), 'every sample as appended')
  t.equal(held.length, 30 * 320)
})

t.test('a wideband line, or a 0xFF frame first: 16-bit from the start', async (t) => {
  const held = new HeldPcm({ compand: true })
  const pause = new Int16Array(160).fill(-1)
  t.not(held.append(pause), undefined)
  held.append(alawFrame(1))
  t.equal(held.law, undefined)
  t.ok(held.pcm().equals(bytesOf([pause, alawFrame(1)])))
})

t.test('compand: false keeps 16-bit samples whose views stay valid', async (t) => {
  const held = new HeldPcm({ compand: false })
  const frame = alawFrame(0)
  const view = held.append(frame) as Buffer
  frame.fill(0)
  t.equal(held.law, undefined)
  t.ok(view.equals(bytesOf([alawFrame(0)])), 'a copy, not the caller\'s memory')
})

t.test('what a 3.7 s utterance on a PCMA line holds: the codes and less than a block more', async (t) => {
  const held = new HeldPcm({ compand: true })
  for (let i = 0; i < 185; i++) held.append(alawFrame(i))
  t.equal(held.length, 185 * 320)
  t.equal(held.law, 'alaw')
  const codes = 185 * 160
  t.ok(held.allocatedBytes >= codes && held.allocatedBytes - codes < 4000, `allocated ${held.allocatedBytes} bytes for ${codes} samples (16-bit: ${codes * 2})`)
})
