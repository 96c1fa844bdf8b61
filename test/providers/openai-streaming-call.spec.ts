import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechSchema } from '../../lib/speech/config.ts'
import { buildProviders } from '../../lib/speech/index.ts'
import { CALLER, CHAT, DID, chatRequests, reply, startRig } from '../conversation/helpers.ts'
import { speechLike } from '../media-stream/signals.ts'
import { FakeOpenAiTranscription } from '../fakes/openai-transcription.ts'

/** Speech the VAD takes for a voice (a pure tone would be taken for ringback). */
function voice (atMs: number, ms: number): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0: 140 }) }) }
}

t.test('a streamed call transcribed by OpenAI\'s realtime session (speech.stt.openai.streaming): audio goes up while the caller speaks', async (t) => {
  const openai = await FakeOpenAiTranscription.start()
  t.teardown(() => openai.close())
  const speech = speechSchema.parse({ stt: { provider: 'openai', openai: { name: 'openai-rt', baseUrl: openai.baseUrl, apiKeyEnv: 'PA_TEST_OPENAI', model: 'gpt-4o-mini-transcribe', streaming: true } }, retry: { maxAttempts: 1 } })
  const providers = buildProviders(speech, { env: { PA_TEST_OPENAI: 'sk-test' }, language: 'it-IT', withoutTts: true })
  t.teardown(() => providers.close())
  openai.reply({ kind: 'text', pieces: ['Vorrei ', 'sapere ', 'gli orari.'] })

  const rig = await startRig(t, { media: { mode: 'stream' }, stt: providers.stt })
  rig.fake.reply(CHAT, reply('Siamo aperti dalle nove alle diciotto.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 1200)] } }).ended

  t.equal(result.hungUpBy, 'server', 'the model ended the call after answering')
  t.same(openai.upgrades.map((u) => [u.path, u.intent, u.authorization]), [['/v1/realtime', 'transcription', 'Bearer sk-test']], 'one session for the one utterance')
  t.ok((openai.samples[0] ?? 0) >= 24_000, `the utterance went up at 24 kHz (${openai.samples[0]} samples)`)
  const latency = rig.store.calls[0]!.latency[0]!
  t.ok(openai.appendTimes.length >= 5, `audio in pieces (${openai.appendTimes.length} appends)`)
  t.ok(openai.appendTimes[2]! < latency.speechEndAt!, 'audio went up while the caller was still speaking')
  t.equal(chatRequests(rig.fake)[0]?.messages.at(-1)?.content, 'Vorrei sapere gli orari.', 'the final transcript reached the model')
  t.same(rig.store.calls[0]!.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere gli orari.'])
  t.ok(latency.speechEndAt! <= latency.sttFinalAt! && latency.sttFinalAt! <= latency.llmFirstTokenAt!, 'end of speech, final transcript, the model: in order')
  t.ok(rig.store.calls[0]!.usage.some((u) => (u.sttSeconds ?? 0) > 1), 'seconds of audio recorded for pricing')
  await openai.whenNoConnections()
  t.equal(openai.openConnections, 0, 'the session\'s socket closed after the transcript')
  await rig.settled(t)
})
