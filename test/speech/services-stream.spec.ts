import t from 'tap'
import { basename } from 'node:path'
import { buildConfig } from '../../lib/config/load.ts'
import { int16FromBytes } from '../../lib/media/pcm.ts'
import { createSpeechServices } from '../../lib/speech/services.ts'
import { streamSentence } from '../../lib/speech/stream-pcm.ts'
import { ScriptedTts, cacheFiles, quiet, soundsDir, voice } from './helpers.ts'

t.test('the real speaker streams: chunks as synthesised, then the same sentence renders from the cache', async (t) => {
  const dir = soundsDir(t)
  const provider = new ScriptedTts(24000)
  const speech = await createSpeechServices(buildConfig({ media: { soundsDir: dir } }, process.cwd()), quiet(), { tts: provider })
  t.teardown(() => speech.close())
  const { speaker } = speech
  t.type(speaker.stream, 'function', 'Speaker.stream is implemented')
  const it = streamSentence(speaker, 'Welcome back.', { rate: 8000 })[Symbol.asyncIterator]()
  const first = it.next()
  const feed = await provider.feed(0)
  feed.send(voice(2400))
  t.ok(((await first).value?.length ?? 0) > 0, 'samples before the provider finished')
  feed.send(voice(2400, 2))
  feed.end()
  while ((await it.next()).done !== true) { /* drain */ }
  const rendered = await speaker.render('Welcome back.', {})
  t.same(cacheFiles(dir), [basename(rendered.path)], 'render() gives the file stream() wrote')
  t.equal(provider.feeds.length, 1, 'without a second synthesis')
  const chunks = []
  for await (const c of speaker.stream?.('Welcome back.', { rate: 16000 }) ?? []) chunks.push(c)
  t.ok(chunks.length > 0 && chunks.every((c) => c.sampleRate === 8000), 'a hit streams the file')
  t.equal(chunks.reduce((n, c) => n + int16FromBytes(c.pcm).length, 0), 1600, '0.2 s at 8 kHz')
})
