import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { validateConfig } from '../../lib/cli/validate.ts'
import { buildConfig } from '../../lib/config/load.ts'
import type { ConfigProblems } from '../../lib/config/problems.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'
import { llmProviders, speechSchema } from '../../lib/speech/config.ts'
import { buildProviders } from '../../lib/speech/index.ts'
import { UsageMeter } from '../../lib/providers/usage.ts'
import { FakeAnthropicServer, textReply } from '../fakes/anthropic-server.ts'
import { FakeOpenAiServer, chatChunk, usageChunk } from '../fakes/openai-server.ts'
import { collect, rejection } from './helpers.ts'

const issues = (raw: unknown): string[] => {
  const r = speechSchema.safeParse(raw)
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

t.test('provider: anthropic reads as a list of one with the Messages API defaults', async (t) => {
  const c = speechSchema.parse({ llm: { provider: 'anthropic' } })
  t.same(llmProviders(c.llm), [{
    field: 'speech.llm.anthropic',
    entry: { provider: 'anthropic', name: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY', model: 'claude-haiku-4-5', maxTokens: 1024 },
  }])
  const list = speechSchema.parse({ llm: { providers: [{ provider: 'anthropic', model: 'claude-sonnet-4-5' }, { provider: 'openai' }] } })
  t.match(llmProviders(list.llm), [{ field: 'speech.llm.providers.0', entry: { provider: 'anthropic', name: 'anthropic' } }, { entry: { provider: 'openai', name: 'openai' } }])
})

t.test('errors name the field', async (t) => {
  t.match(issues({ llm: { provider: 'anthropic', anthropic: { temperature: 1.5 } } }), [/^llm\.anthropic\.temperature: /])
  t.match(issues({ llm: { providers: [{ provider: 'anthropic', maxTokens: 0 }] } }), [/^llm\.providers\.0\.maxTokens: /])
  t.match(issues({ llm: { providers: [{ provider: 'anthropic', apiKey: 'sk-ant-live' }] } }), [/^llm\.providers\.0: .*apiKey/], 'keys are never config fields')
  t.match(issues({ llm: { provider: 'anthropic', anthropic: { apiKeyEnv: 'not a name' } } }), [/^llm\.anthropic\.apiKeyEnv: expected an environment variable name/])
  t.match(issues({ llm: { provider: 'claude' } }), [/^llm\.provider: /])
})

t.test('a missing key fails start-up and check with the field', async (t) => {
  const config = speechSchema.parse({ llm: { provider: 'anthropic', anthropic: { apiKeyEnv: 'PA_TEST_UNSET_ANTHROPIC' } } })
  const err = await rejection((async () => buildProviders(config, { env: {}, language: 'en-US', withoutTts: true }))())
  t.ok(isPhoneAgentError(err, 'CONFIG_INVALID'))
  t.match((err as Error).message, /speech\.llm\.anthropic\.apiKeyEnv.*PA_TEST_UNSET_ANTHROPIC is not set/)

  const dir = await mkdtemp(join(tmpdir(), 'pa-anthropic-check-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const full = buildConfig({
    media: { soundsDir: join(dir, 'sounds') },
    records: { dataDir: join(dir, 'data') },
    routes: { '+390212345678': { script: 'receptionist' } },
    transfers: { operator: { type: 'extension', extension: '1000' } },
    agent: { transfers: { human: 'operator' } },
    speech: {
      stt: { provider: 'openai', openai: { apiKeyEnv: 'PA_TEST_OPENAI' } },
      llm: { providers: [{ provider: 'anthropic', apiKeyEnv: 'PA_TEST_UNSET_ANTHROPIC' }, { provider: 'openai', apiKeyEnv: 'PA_TEST_OPENAI' }] },
    },
  }, dir)
  const problems = await rejection(validateConfig(full, { env: { PA_TEST_OPENAI: 'sk' }, typecheck: false })) as ConfigProblems
  t.same(problems.problems.map((p) => p.field), ['speech.llm.providers.0.apiKeyEnv'])
  t.match(problems.message, /environment variable PA_TEST_UNSET_ANTHROPIC is not set/)
})

t.test('Claude overloaded: the reply fails over to the next model in the list, usage is priced per provider', async (t) => {
  const claude = await FakeAnthropicServer.start()
  const openai = await FakeOpenAiServer.start()
  t.teardown(async () => { await claude.close(); await openai.close() })
  const config = speechSchema.parse({
    llm: { providers: [{ provider: 'anthropic', baseUrl: claude.baseUrl, apiKeyEnv: 'K', model: 'claude-test' }, { provider: 'openai', baseUrl: openai.baseUrl, apiKeyEnv: 'K', model: 'gpt-test' }] },
    retry: { maxAttempts: 1 },
    breaker: { failures: 1 },
    pricing: { llm: { 'anthropic:claude-test': { inputPerMillionTokens: 1, outputPerMillionTokens: 5 }, openai: { inputPerMillionTokens: 0.15, outputPerMillionTokens: 0.6 } } },
  })
  const providers = buildProviders(config, { env: { K: 'key' }, language: 'en-US', withoutTts: true })
  t.teardown(() => providers.close())
  const llm = providers.llm!
  t.equal(llm.name, 'anthropic', 'Claude first')
  claude.reply({ kind: 'error', status: 529, type: 'overloaded_error' })
  openai.reply('/v1/chat/completions', { kind: 'sse', chunks: [chatChunk({ content: 'Hello from the fallback' }, 'stop'), usageChunk(100, 10)] })
  const usage = new UsageMeter()
  const deltas = await collect(llm.stream([{ role: 'user', content: 'hi' }], { usage }))
  t.same(deltas.filter((d) => d.type === 'text'), [{ type: 'text', text: 'Hello from the fallback' }])
  t.equal(llm.name, 'openai', 'the breaker opened: the next reply goes to OpenAI first')

  // Once the cool-down lets Claude back in, its usage is priced from its own entry.
  const again = buildProviders(config, { env: { K: 'key' }, language: 'en-US', withoutTts: true })
  t.teardown(() => again.close())
  claude.reply({ kind: 'events', events: textReply(['Hi'], { input: 2_000_000, output: 100_000 }) })
  await collect(again.llm!.stream([{ role: 'user', content: 'hi' }], { usage }))
  const cost = usage.cost(config.pricing)
  t.match(cost.lines, [{ provider: 'openai', cost: Number }, { provider: 'anthropic', model: 'claude-test', inputTokens: 2_000_000, outputTokens: 100_000, cost: 2.5 }])
  t.equal(cost.unpriced, 0)
})
