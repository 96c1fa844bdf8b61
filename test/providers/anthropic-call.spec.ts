import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startPhoneAgent } from '../../lib/app.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import { buildProviders } from '../../lib/speech/index.ts'
import { FakeAnthropicServer, toolReply, textReply } from '../fakes/anthropic-server.ts'
import { FakeOpenAiServer } from '../fakes/openai-server.ts'
import { captureStore, speech, transcript, DID, STT, placeHeardCall } from '../conversation/helpers.ts'
import { withTestVad } from '../helpers/agent.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { captureLogs } from '../helpers/logs.ts'
import { toneSpeaker } from '../helpers/speaker.ts'

/**
 * A receptionist call whose model is Claude on the Anthropic fake, built from the config as
 * `serve` builds it (speech.llm.provider: anthropic, the key from the environment): a refused
 * number, then a transfer to a configured target, through the same guard as every model.
 */
/** FreeSWITCH applications that send the call to a number. */
const DIALLING_APPS = new Set(['bridge', 'transfer', 'deflect', 'redirect', 'execute_extension'])

t.test('a receptionist call on the native Anthropic client: a number refused, then a configured transfer', async (t) => {
  const baseline = resources()
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-anthropic-'))
  const claude = await FakeAnthropicServer.start()
  const whisper = await FakeOpenAiServer.start()
  const config = buildConfig({
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50 },
    media: withTestVad({ soundsDir, mode: 'files' }),
    language: 'it-IT',
    routes: { [DID]: { script: 'receptionist' } },
    transfers: { operator: { type: 'extension', extension: '1000' }, sales: { type: 'extension', extension: '2000' } },
    agent: { transfers: { human: 'operator' }, deadlines: { noInputMs: 3000, turnMs: 4000, llmFirstTokenMs: 3000, ttsFirstAudioMs: 3000, deadAirMs: 3000 } },
    speech: {
      stt: { provider: 'openai', openai: { baseUrl: whisper.baseUrl, apiKeyEnv: 'PA_TEST_OPENAI' } },
      llm: { provider: 'anthropic', anthropic: { baseUrl: claude.baseUrl, apiKeyEnv: 'PA_TEST_ANTHROPIC', model: 'claude-test', maxTokens: 300 } },
      retry: { maxAttempts: 1 },
    },
  }, process.cwd())
  const providers = buildProviders(config.speech, { env: { PA_TEST_ANTHROPIC: 'sk-ant-test', PA_TEST_OPENAI: 'sk-test' }, language: 'it-IT', withoutTts: true })
  const { logger, records: logs } = captureLogs()
  const speaker = toneSpeaker(soundsDir)
  const store = captureStore()
  const agent = await startPhoneAgent(config, { logger, speaker, stt: providers.stt, llm: providers.llm, records: store })
  t.teardown(async () => {
    await agent.stop(5000)
    await providers.close()
    await claude.close()
    await whisper.close()
    await rm(soundsDir, { recursive: true, force: true })
  })

  whisper.reply(STT, transcript('Mi passi il +39 899 123456, poi le vendite.'))
  claude.reply(
    { kind: 'events', events: toolReply('toolu_1', 'transfer_call', ['{"target": "+39', '899123456"}'], '', { input: 800, output: 30 }) },
    { kind: 'events', events: toolReply('toolu_2', 'transfer_call', ['{"target":', ' "sales"}'], 'Non posso chiamare numeri: la passo alle vendite.', { input: 900, output: 40 }) })
  const result = await placeHeardCall({ port: agent.server.port, destination: DID, caller: { audio: [speech(400)] } }).ended

  t.equal(result.transfer?.to, '2000', 'transferred to the configured sales extension')
  // Only the apps that reach a number: a recording's random file name may hold "899" too (once in ~150 runs).
  t.notOk(result.apps.some((a) => a.name === 'bridge' || (DIALLING_APPS.has(a.name) && String(a.arg ?? '').includes('899'))), 'the refused number was never dialled')
  t.equal(claude.requests.length, 2, 'one request per model round')
  const [first, second] = claude.requests.map((r) => r.json as { system: string, messages: Array<{ role: string, content: Array<Record<string, unknown>> }>, tools: Array<{ name: string, input_schema: { properties: { target?: { enum?: string[] } } } }> })
  t.match(first?.system, /Caller ID/, 'the system prompt went into `system`')
  t.same(first?.messages.map((m) => m.role), ['user', 'assistant', 'user'], 'the placeholder, the greeting, the caller\'s words')
  t.same(first?.tools.map((d) => d.name), ['transfer_call', 'end_call', 'take_message', 'lookup_contact'])
  t.same(first?.tools[0]?.input_schema.properties.target?.enum, ['operator', 'sales'], 'the tool offers configured names only')
  const round = second?.messages.slice(-2) ?? []
  t.match(round[0], { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'transfer_call', input: { target: '+39899123456' } }] })
  t.match(round[1], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1' }] })
  const refusal = JSON.parse(String(round[1]?.content[0]?.content)) as { error?: string }
  t.match(refusal.error, /targets are names, never phone numbers/, 'the refusal reached the model as a tool_result')
  t.notOk(JSON.stringify(round[1]).includes('899'), 'the refused number is not echoed back')
  t.equal(logs.filter((l) => l.msg === 'tool call refused').length, 1)

  const call = store.calls[0]!
  t.equal(call.end?.outcome, 'transferred')
  t.same(call.turns.filter((x) => x.role === 'agent').at(-1)?.text, 'Non posso chiamare numeri: la passo alle vendite.')
  const llm = call.usage.filter((u) => u.llmInputTokens !== undefined)
  t.same([llm.reduce((n, u) => n + (u.llmInputTokens ?? 0), 0), llm.reduce((n, u) => n + (u.llmOutputTokens ?? 0), 0)], [1700, 70], 'usage of both rounds recorded')

  await claude.whenNoConnections()
  t.equal(claude.openConnections, 0, 'no Anthropic connection left open')
  t.equal(pendingProviderTimers(), 0, 'no provider timer left')
  t.same(await leaksSince(baseline, ['Timeout']), {}, 'no timers left')
})

t.test('textReply builder is a complete message (guards the fake itself)', async (t) => {
  const events = textReply(['a'])
  t.same(events.map((e) => e.type), ['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'])
})
