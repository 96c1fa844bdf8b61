import t from 'tap'
import { bytesFromInt16, int16FromBytes } from '../../lib/media/pcm.ts'

/**
 * int16FromBytes and bytesFromInt16 copy bytes at once on a little-endian host instead of reading
 * and writing each sample: the same samples and bytes as Buffer's own readInt16LE and
 * writeInt16LE give, whatever the offsets, and never memory shared with the input.
 */

function randomBytes (n: number, seed: number): Buffer {
  const out = Buffer.alloc(n)
  let x = seed
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

t.test('bytes -> samples: as readInt16LE reads them, at even and odd offsets', async (t) => {
  const raw = randomBytes(4001, 7)
  for (const offset of [0, 1]) {
    const pcm = raw.subarray(offset, offset + 4000)
    const samples = int16FromBytes(pcm)
    t.equal(samples.length, 2000)
    const differ = Array.from(samples).filter((v, i) => v !== pcm.readInt16LE(i * 2)).length
    t.equal(differ, 0, `offset ${offset}`)
    const first = samples[0]
    pcm[0] = (pcm[0] as number) ^ 0xff
    t.equal(samples[0], first, `offset ${offset}: a copy (changing the bytes after does not change the samples)`)
  }
})

t.test('samples -> bytes: as writeInt16LE writes them, from a view into a larger array', async (t) => {
  const all = Int16Array.from({ length: 3000 }, (_, i) => ((i * 7919) % 65536) - 32768)
  const view = all.subarray(17, 17 + 2500)
  const bytes = bytesFromInt16(view)
  t.equal(bytes.length, 5000)
  const expected = Buffer.alloc(5000)
  view.forEach((v, i) => { expected.writeInt16LE(v, i * 2) })
  t.ok(bytes.equals(expected), 'the same bytes')
  const before = bytes.readInt16LE(0)
  view[0] = (view[0] as number) === 0 ? 1 : 0
  t.equal(bytes.readInt16LE(0), before, 'a copy (changing the samples after does not change the bytes)')
  t.same([...int16FromBytes(expected)], Array.from({ length: 2500 }, (_, i) => expected.readInt16LE(i * 2)), 'and back')
})
