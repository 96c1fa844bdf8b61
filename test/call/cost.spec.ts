import t from 'tap'
import { buildConfig } from '../../lib/config/load.ts'
import { meteredRecorder, recordRealtimeUsage } from '../../lib/call/cost.ts'
import { nullRecorder } from '../../lib/records/null-recorder.ts'
import type { CallRecorder } from '../../lib/records/types.ts'

// With a failover list, speech is priced at the first listed voice (not as "offline").
t.test('TTS characters are priced at the first provider of a speech.tts.providers list', async (t) => {
  const config = buildConfig({
    speech: {
      tts: { providers: [{ provider: 'openai', name: 'groq', apiKeyEnv: 'X_KEY', model: 'voice-1' }, { provider: 'offline' }] },
      pricing: { currency: 'EUR', tts: { 'groq:voice-1': { perMillionCharacters: 2_000_000 }, offline: { perMillionCharacters: 0 } } },
    },
  }, process.cwd())
  const seen: Array<Record<string, unknown>> = []
  const inner: CallRecorder = { ...nullRecorder('u1'), usage: (u) => { seen.push({ ...u }) } }
  const recorder = meteredRecorder(inner, config, { stt: undefined, llm: undefined })
  recorder.usage({ ttsCharacters: 10 })
  await recorder.end({ outcome: 'completed', endedAt: Date.now() })
  t.same(seen.at(-1), { costEstimate: 20 }, '10 characters at 2 per character')
})

t.test('every record call reaches the inner recorder; a realtime session\'s tokens are metered under its vendor', async (t) => {
  const config = buildConfig({
    speech: { pricing: { currency: 'EUR', llm: { 'openai:rt-1': { inputPerMillionTokens: 1_000_000, outputPerMillionTokens: 2_000_000 } } } },
  }, process.cwd())
  const seen: string[] = []
  const usages: Array<Record<string, unknown>> = []
  const log = (name: string) => () => { seen.push(name) }
  const inner: CallRecorder = {
    uuid: 'u2',
    rejected: log('rejected'), answered: log('answered'), contact: log('contact'), turn: log('turn'), latency: log('latency'),
    message: log('message'), error: log('error'), usage: (u) => { usages.push({ ...u }) }, end: async () => { seen.push('end') },
  }
  const recorder = meteredRecorder(inner, config, { stt: undefined, llm: undefined })
  t.equal(recorder.uuid, 'u2')
  // Taken apart from the recorder, as a caller may pass one on.
  const { answered } = recorder
  t.throws(() => { answered(1) }, 'the methods are the class\'s: called on the recorder')
  recorder.rejected('x'); recorder.answered(1); recorder.contact('n'); recorder.turn({ role: 'caller', text: 'x', at: 1 } as never)
  recorder.latency({} as never); recorder.message({} as never); recorder.error({ code: 'X', message: 'x' })
  recordRealtimeUsage(recorder, { provider: 'openai', model: 'rt-1', inputTokens: 3, outputTokens: 4 })
  recordRealtimeUsage(inner, { provider: 'openai', model: 'rt-1', inputTokens: 100, outputTokens: 100 })
  await recorder.end({ outcome: 'completed', endedAt: Date.now() })
  t.same(seen, ['rejected', 'answered', 'contact', 'turn', 'latency', 'message', 'error', 'end'])
  t.same(usages, [{ llmInputTokens: 3, llmOutputTokens: 4 }, { costEstimate: 11 }], 'a recorder meteredRecorder did not make is left alone')
})
