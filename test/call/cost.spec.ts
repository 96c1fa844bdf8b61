import t from 'tap'
import { buildConfig } from '../../lib/config/load.ts'
import { meteredRecorder } from '../../lib/call/cost.ts'
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
