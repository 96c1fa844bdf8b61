import t from 'tap'
import { PcmAccumulator } from '../../lib/media/pcm-accumulator.ts'

t.test('appends copies, grows, and keeps earlier views valid', async (t) => {
  const acc = new PcmAccumulator(4)
  const first = Buffer.from([1, 2, 3, 4])
  const v1 = acc.append(first)
  first.fill(9) // the caller's frame is reused or dies: the copy must not change
  t.same([...v1], [1, 2, 3, 4])
  const v2 = acc.append(Uint8Array.from([5, 6, 7, 8, 9, 10]))
  t.equal(acc.length, 10)
  t.same([...v1], [1, 2, 3, 4], 'a view from before the buffer grew still holds its bytes')
  t.same([...v2], [5, 6, 7, 8, 9, 10])
  t.same([...acc.view()], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
})

t.test('chunks cover everything in order, none longer than asked', async (t) => {
  const acc = new PcmAccumulator(2)
  for (let i = 0; i < 7; i++) acc.append(Uint8Array.from([i * 2, i * 2 + 1]))
  const chunks = [...acc.chunks(4)]
  t.same(chunks.map((c) => c.length), [4, 4, 4, 2])
  t.same([...Buffer.concat(chunks)], [...Array(14).keys()])
  t.same([...new PcmAccumulator().chunks(4)], [], 'nothing held, nothing yielded')
})

t.test('the memory behind a view past what was appended is zeros, not old heap contents', async (t) => {
  const acc = new PcmAccumulator(64)
  const v = acc.append(Uint8Array.from([7, 7]))
  const whole = new Uint8Array(v.buffer, v.byteOffset, 64)
  t.same([...whole.subarray(2)], new Array(62).fill(0))
})
