import t from 'tap'
import { silentSamples } from '../../lib/media/pcm.ts'

t.test('silentSamples: zeros of the length asked, one shared array per length', async (t) => {
  const a = silentSamples(160)
  t.equal(a.length, 160)
  t.ok(a.every((s) => s === 0), 'all zero')
  t.equal(silentSamples(160), a, 'the same array again (no allocation per echoed frame)')
  t.not(silentSamples(320), a, 'another length, another array')
  t.equal(silentSamples(320).length, 320)
})

t.test('arbitrary lengths do not grow the shared set without bound', async (t) => {
  for (let n = 1000; n < 1200; n++) t.equal(silentSamples(n).length, n)
  const late = silentSamples(5000)
  t.ok(late.every((s) => s === 0))
  t.not(silentSamples(5000), late, 'past the bound each call gets a fresh array')
})
