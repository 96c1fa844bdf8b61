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

t.test('held in blocks: nothing copied to grow, views stay valid, chunks span blocks', async (t) => {
  const acc = new PcmAccumulator(6)
  const views = [0, 1, 2, 3, 4].map((i) => acc.append(Uint8Array.from([i * 4, i * 4 + 1, i * 4 + 2, i * 4 + 3])))
  t.equal(acc.length, 20)
  t.same(views.map((v) => v.buffer.byteLength), [6, 6, 6, 6, 6], 'a chunk that does not fit opens a block of its own size or the block size')
  t.same([...views[0] as Buffer], [0, 1, 2, 3])
  const chunks = [...acc.chunks(6)]
  t.same(chunks.map((c) => c.length), [6, 6, 6, 2], 'the same pieces as one buffer would give')
  t.same([...Buffer.concat(chunks)], [...Array(20).keys()])
  const whole = acc.view()
  t.same([...whole], [...Array(20).keys()], 'view() joins the blocks')
  acc.append(Uint8Array.from([20, 21]))
  t.same([...whole], [...Array(20).keys()], 'the joined view is not written again')
  t.same([...acc.view()], [...Array(22).keys()])
  t.same([...views[4] as Buffer], [16, 17, 18, 19], 'views from before the join still hold their bytes')
})

t.test('what is held for a 4.2 s utterance at 8 kHz: the audio and less than a block more', async (t) => {
  const acc = new PcmAccumulator()
  const frame = new Uint8Array(320)
  for (let i = 0; i < 210; i++) acc.append(frame)
  const blocks = new Set([...acc.chunks(320)].map((c) => c.buffer)) // frame-sized pieces are views of the blocks
  const allocated = [...blocks].reduce((s, b) => s + b.byteLength, 0)
  t.equal(acc.length, 67_200)
  t.ok(allocated - acc.length < 8000, `allocated ${allocated} bytes (one doubled buffer: 128,000)`)
})
