import { TextToSpeechClient } from '@google-cloud/text-to-speech'
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { int16FromBytes } from '../../lib/media/pcm.ts'
import { resample } from '../../lib/media/resample.ts'
import { parseWav } from '../../lib/media/wav.ts'
import { googleClientOptions } from '../../lib/providers/google-client.ts'
import { createOpenAiClient } from '../../lib/providers/openai-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { streamSentence, type PcmSpeaker } from '../../lib/speech/stream-pcm.ts'
import { SpeechCache } from '../../lib/speech/tts-cache.ts'
import { GoogleTts } from '../../lib/speech/tts/google.ts'
import { OpenAiTts } from '../../lib/speech/tts/openai.ts'
import type { TtsProvider } from '../../lib/speech/types.ts'
import { FakeGoogleServer } from '../fakes/google-grpc.ts'
import { FakeOpenAiServer } from '../fakes/openai-server.ts'
import { cacheFiles, concat, quiet, sameSamples, soundsDir } from './helpers.ts'

/**
 * The whole chain on the vendors' wire protocols: the real client, the provider, the cache and
 * streamSentence. The server holds everything after its first piece until the first samples
 * at the stream rate are ours: if any layer waited for the whole sentence, they never would be
 * (a safety timer then lets the server go on, and the order assertion fails).
 */

const retry = { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 }

function pcm24k (samples: number): Buffer {
  const b = Buffer.alloc(samples * 2)
  for (let i = 0; i < samples; i++) b.writeInt16LE(Math.round(9000 * Math.sin(i * 0.03) + 3000 * Math.sin(i * 0.4)), i * 2)
  return b
}

function gate (): { held: Promise<void>, release: () => void, dispose: () => void } {
  let release!: () => void
  const held = new Promise<void>((resolve) => { release = resolve })
  const safety = setTimeout(release, 5000)
  return { held, release, dispose: () => { clearTimeout(safety) } }
}

async function run (t: Test, provider: TtsProvider, sent: () => number, whole: Buffer, g: ReturnType<typeof gate>, text: string): Promise<void> {
  const dir = soundsDir(t)
  const cache = new SpeechCache({ provider, soundsDir: dir, maxBytes: 10_000_000, logger: quiet() })
  const speaker: PcmSpeaker = { render: async (x, o) => await cache.render(x, o), stream: (x, o) => cache.stream(x, o) }
  const parts: Int16Array[] = []
  let sentAtFirst = -1
  for await (const samples of streamSentence(speaker, text, { rate: 8000 })) {
    if (parts.length === 0) { sentAtFirst = sent(); g.release() }
    parts.push(samples)
  }
  g.dispose()
  t.equal(sentAtFirst, 1, 'the first 8 kHz samples were ours while the server held the rest')
  const expected = resample(int16FromBytes(whole), 24000, 8000)
  t.ok(sameSamples(concat(parts), expected), 'all of the sentence, as resampling it whole would give')
  await cache.idle()
  const files = cacheFiles(dir)
  t.equal(files.length, 1)
  t.ok(sameSamples(parseWav(readFileSync(join(dir, 'cache', files[0] ?? ''))).samples, expected), 'and the cache file has the same')
}

t.test('OpenAI-compatible speech (PCM over chunked HTTP) to 8 kHz samples', async (t) => {
  const fake = await FakeOpenAiServer.start()
  t.teardown(() => fake.close())
  const tts = new OpenAiTts({
    client: createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'test' }),
    name: 'openai', model: 'gpt-4o-mini-tts', voice: 'alloy', format: 'pcm', sampleRate: 24000,
    queue: new ProviderQueue('tts', 2), retry, timeoutMs: 10_000,
  })
  const whole = pcm24k(36000)
  const g = gate()
  fake.reply('/v1/audio/speech', { kind: 'bytes', body: whole, contentType: 'audio/pcm', chunkSize: 4801, delayMs: 1, hold: { afterChunks: 1, until: g.held } })
  await run(t, tts, () => fake.bodyChunksSent, whole, g, 'A first sentence that is a good deal longer than ten characters.')
})

t.test('Google StreamingSynthesize (gRPC, a Chirp 3 HD voice) to 8 kHz samples', async (t) => {
  const fake = await FakeGoogleServer.start()
  const client = new TextToSpeechClient(googleClientOptions({ apiEndpoint: '127.0.0.1', port: fake.port, insecure: true }))
  t.teardown(async () => { await client.close(); await fake.close() })
  const tts = new GoogleTts({ client, name: 'google', voice: 'it-IT-Chirp3-HD-Aoede', language: 'it-IT', queue: new ProviderQueue('tts', 2), retry, timeoutMs: 10_000 })
  const whole = pcm24k(36000)
  const chunks: Buffer[] = []
  for (let at = 0; at < whole.length; at += 9601) chunks.push(whole.subarray(at, at + 9601))
  const g = gate()
  fake.script('streamingSynthesize', { kind: 'audio', chunks, delayMs: 1, hold: { afterChunks: 1, until: g.held } })
  await run(t, tts, () => fake.audioChunksSent, whole, g, 'Buongiorno, sono l\'assistente dello studio: come posso aiutarla?')
})
