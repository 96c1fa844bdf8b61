import t from 'tap'
import { bufferedSession } from '../../lib/speech/stt/buffered-session.ts'
import type { PcmChunk } from '../../lib/speech/types.ts'

/** A session whose transcription hands back what it was given. */
function session (): { write: (f: Buffer) => void, end: () => void, given: Promise<PcmChunk> } {
  let give!: (a: PcmChunk) => void
  const given = new Promise<PcmChunk>((resolve) => { give = resolve })
  const s = bufferedSession(async (audio) => { give(audio); return { text: 'ok', durationMs: 0 } }, { sampleRate: 8000 })
  return { write: (f) => { s.write(f) }, end: () => { s.end() }, given }
}

const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251))

t.test('frames that follow each other in one buffer are sent as that buffer, not a copy', async (t) => {
  const source = bytes(3200)
  const s = session()
  for (let at = 0; at < 1600; at += 320) s.write(source.subarray(at, at + 320))
  s.end()
  const { pcm } = await s.given
  t.equal(pcm.buffer, source.buffer, 'no copy')
  t.same([...pcm], [...source.subarray(0, 1600)])
})

t.test('pieces from different buffers are joined in order, however many', async (t) => {
  const source = bytes(320 * 200)
  const s = session()
  // Each frame in memory of its own, as a caller could write them: joined every so often, never lost.
  for (let at = 0; at < source.length; at += 320) s.write(Buffer.from(source.subarray(at, at + 320)))
  s.end()
  const { pcm } = await s.given
  t.equal(pcm.length, source.length)
  t.same(pcm.equals(source), true)
})

t.test('a block change in the middle: two pieces, one whole', async (t) => {
  const a = bytes(640)
  const b = Buffer.from(bytes(1280).subarray(640))
  const s = session()
  s.write(a.subarray(0, 320)); s.write(a.subarray(320, 640)); s.write(b.subarray(0, 320)); s.write(b.subarray(320))
  s.end()
  const { pcm } = await s.given
  t.same([...pcm], [...bytes(1280)])
})
