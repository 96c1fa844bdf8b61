import t from 'tap'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { DecodedAudioCache } from '../../lib/call/stream/decoded-audio.ts'
import { bytesFromInt16 } from '../../lib/media/pcm.ts'
import { SpeechCache } from '../../lib/speech/tts-cache.ts'
import type { PcmChunk, TtsRequest } from '../../lib/speech/types.ts'
import { sine } from '../media/signals.ts'

// Stream mode plays a cached prompt (the ring-back, the recording notice, an apology) by
// rendering it, then taking its samples from the decoded-audio cache, which every call shares
// and which keys a file on its mtime and size (a prompt replaced on disk is decoded again).

const quiet = pino({ level: 'silent' }, new Writable({ write (_c, _e, cb) { cb() } }))
const tone = {
  name: 'tone',
  calls: 0,
  voiceId: (r: TtsRequest) => `tone/${r.voice ?? 'default'}`,
  async * synthesize (r: TtsRequest): AsyncIterable<PcmChunk> {
    tone.calls++
    yield { pcm: bytesFromInt16(sine(1000, 8000, r.text.length / 10)), sampleRate: 8000 }
  },
}

function speechCache (t: { teardown (fn: () => void): void }): SpeechCache {
  const dir = mkdtempSync(join(tmpdir(), 'pa-tts-decoded-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  return new SpeechCache({ provider: tone, soundsDir: dir, maxBytes: 100_000_000, logger: quiet })
}

t.test('a render that hits the cache does not make the shared decoded copy stale', async (t) => {
  const cache = speechCache(t)
  const decoded = new DecodedAudioCache()
  const { path } = await cache.render('Un attimo, la metto in attesa.')
  const first = await decoded.get(path, 8000)
  await sleep(5) // a new mtime would differ from the write's
  const hit = await cache.render('Un attimo, la metto in attesa.')
  t.equal(hit.cached, true)
  t.equal(await decoded.get(path, 8000), first, 'the next call plays the same decoded samples, not a copy of its own')
})

t.test('concurrent renders of one sentence: one synthesis, one file, left alone by later hits', async (t) => {
  const cache = speechCache(t)
  tone.calls = 0
  const renders = await Promise.all([1, 2, 3].map(async () => await cache.render('Allora, le spiego.')))
  t.equal(tone.calls, 1, 'one synthesis')
  const { ino, mtimeMs } = statSync(renders[0]?.path ?? '')
  const later = await cache.render('Allora, le spiego.')
  t.equal(later.cached, true)
  t.same(statSync(later.path).ino, ino, 'the same file')
  t.equal(statSync(later.path).mtimeMs, mtimeMs, 'its mtime left alone so soon after the write')
})
