import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { validateConfig } from '../../lib/cli/validate.ts'
import { buildConfig } from '../../lib/config/load.ts'
import type { ConfigProblems } from '../../lib/config/problems.ts'
import { llmProviders, speechSchema, sttProviders, ttsProviders } from '../../lib/speech/config.ts'
import { rejection } from './helpers.ts'

const issues = (raw: unknown): string[] => {
  const r = speechSchema.safeParse(raw)
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

t.test('one provider per role still validates and reads as a list of one', async (t) => {
  const c = speechSchema.parse({ llm: { provider: 'openai', openai: { name: 'groq', apiKeyEnv: 'GROQ_API_KEY' } }, stt: { provider: 'google' } })
  t.match(llmProviders(c.llm), [{ field: 'speech.llm.openai', entry: { provider: 'openai', name: 'groq', apiKeyEnv: 'GROQ_API_KEY' } }])
  t.match(sttProviders(c.stt), [{ field: 'speech.stt.google', entry: { provider: 'google', name: 'google' } }])
  t.match(ttsProviders(c.tts), [{ field: 'speech.tts.offline', entry: { provider: 'offline', voice: 'kal' } }], 'the offline voice by default')
  t.same(sttProviders(speechSchema.parse({}).stt), [], 'none is an empty list')
  t.same(c.breaker, { enabled: true, failures: 5, coolDownMs: 30_000 })
})

t.test('list errors name the field', async (t) => {
  t.same(issues({ llm: { providers: [{ provider: 'openai', name: 'groq' }, { provider: 'openai', name: 'groq' }] } }),
    ['llm.providers.1.name: "groq" is already the name of an earlier entry; give each provider its own name'])
  t.match(issues({ llm: { provider: 'openai', providers: [{ provider: 'openai' }] } }), [/^llm\.providers: set either provider \(one\) or providers \(a list\), not both/])
  t.match(issues({ stt: { providers: [{ provider: 'offline' }] } }), [/^stt\.providers\.0\.provider: /])
  t.match(issues({ tts: { providers: [{ provider: 'openai', apiKey: 'sk-live' }] } }), [/^tts\.providers\.0: .*apiKey/], 'keys are never config fields, in a list either')
  t.match(issues({ tts: { providers: [{ provider: 'offline' }, { provider: 'offline', voice: 'slt' }] } }), [/^tts\.providers\.1\.name: "offline" is already/], 'one offline voice at most')
  t.match(issues({ breaker: { failures: 0 } }), [/^breaker\.failures: /])
})

t.test('check validates every listed provider: keys, the offline voice', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-lists-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const config = buildConfig({
    media: { soundsDir: join(dir, 'sounds') },
    records: { dataDir: join(dir, 'data') },
    routes: { '+390212345678': { script: 'receptionist' } },
    transfers: { operator: { type: 'extension', extension: '1000' } },
    agent: { transfers: { human: 'operator' } },
    speech: {
      stt: { providers: [{ provider: 'openai', name: 'groq', apiKeyEnv: 'PA_TEST_GROQ' }] },
      llm: { providers: [{ provider: 'openai', name: 'groq', apiKeyEnv: 'PA_TEST_GROQ' }, { provider: 'openai', name: 'openai', apiKeyEnv: 'PA_TEST_UNSET_KEY' }] },
      tts: { providers: [{ provider: 'openai', apiKeyEnv: 'PA_TEST_GROQ' }, { provider: 'offline', voice: 'kall' }] },
    },
  }, dir)
  const err = await rejection(validateConfig(config, { env: { PA_TEST_GROQ: 'gsk' }, typecheck: false })) as ConfigProblems
  t.same(err.problems.map((p) => p.field).sort(), ['speech.llm.providers.1.apiKeyEnv', 'speech.tts.providers.1.voice'],
    'the second model\'s missing key and the fallback voice\'s typo; the receptionist\'s needs are met by the lists')
  t.match(err.message, /speech\.llm\.providers\.1\.apiKeyEnv: environment variable PA_TEST_UNSET_KEY is not set/)
})
