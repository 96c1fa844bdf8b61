import t from 'tap'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DecodedAudioCache } from '../../lib/call/stream/decoded-audio.ts'
import { toneWav } from '../helpers/speaker.ts'

t.test('decoded sound files are shared, refreshed when the file changes, and bounded', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-decoded-'))
  const a = join(dir, 'a.wav')
  await writeFile(a, toneWav(1000))
  const cache = new DecodedAudioCache(40_000)
  const first = await cache.get(a, 8000)
  t.equal(first.length, 8000)
  t.equal(await cache.get(a, 8000), first, 'a second call gets the same array: one copy for every caller')
  t.equal((await cache.get(a, 16000)).length, 16000, 'resampled to the stream rate, kept apart per rate')
  await new Promise((resolve) => setTimeout(resolve, 20))
  await writeFile(a, toneWav(500))
  t.equal((await cache.get(a, 8000)).length, 4000, 'a changed file is decoded again')
  const big = join(dir, 'big.wav')
  await writeFile(big, toneWav(3000))
  const b1 = await cache.get(big, 8000)
  t.not(await cache.get(big, 8000), b1, 'a file larger than the bound is never kept')
  await t.rejects(cache.get(join(dir, 'missing.wav'), 8000), { code: 'MEDIA_INVALID' })
})
