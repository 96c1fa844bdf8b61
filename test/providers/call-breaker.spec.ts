import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startPhoneAgent } from '../../lib/app.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { Metrics } from '../../lib/ops/metrics.ts'
import { buildProviders } from '../../lib/speech/index.ts'
import { CHAT, DID, STT, captureStore, speech, transcript, placeHeardCall } from '../conversation/helpers.ts'
import { FakeOpenAiServer } from '../fakes/openai-server.ts'
import { withTestVad } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'
import { toneSpeaker } from '../helpers/speaker.ts'
import { metric, serverError } from './chain-helpers.ts'

const APOLOGY = 'Mi scusi, ho un problema tecnico. La metto in contatto con un collega.'

t.test('while the only model is broken, the next call apologises without asking it', async (t) => {
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-breaker-'))
  const fake = await FakeOpenAiServer.start()
  const config = buildConfig({
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50 },
    media: withTestVad({ soundsDir, mode: 'files' }),
    language: 'it-IT',
    routes: { [DID]: { script: 'receptionist' } },
    transfers: { operator: { type: 'extension', extension: '1000' } },
    agent: { transfers: { human: 'operator' }, deadlines: { noInputMs: 3000, turnMs: 4000, llmFirstTokenMs: 3000, ttsFirstAudioMs: 3000 } },
    speech: {
      stt: { provider: 'openai', openai: { name: 'whisper', baseUrl: fake.baseUrl } },
      llm: { provider: 'openai', openai: { name: 'groq', baseUrl: fake.baseUrl } },
      retry: { maxAttempts: 1 },
      breaker: { failures: 1, coolDownMs: 600_000 },
    },
  }, process.cwd())
  const metrics = new Metrics({ processMetrics: false })
  const providers = buildProviders(config.speech, { env: {}, language: config.language, observer: metrics, withoutTts: true })
  const store = captureStore()
  const agent = await startPhoneAgent(config, { logger: captureLogs().logger, speaker: toneSpeaker(soundsDir), stt: providers.stt, llm: providers.llm, records: store })
  t.teardown(async () => {
    await agent.stop(5000)
    await providers.close()
    await fake.close()
    await rm(soundsDir, { recursive: true, force: true })
  })
  const chats = (): number => fake.requests.filter((r) => r.path === CHAT).length
  const call = async () => {
    fake.reply(STT, transcript('Pronto?'))
    const result = await placeHeardCall({ port: agent.server.port, destination: DID, callerNumber: '+393331112222', caller: { audio: [speech(400)] } }).ended
    return { result, record: store.calls.at(-1)! }
  }

  fake.reply(CHAT, serverError)
  const first = await call()
  t.equal(chats(), 1, 'the first call asked the model, which failed')
  t.match(first.record.errors, [{ code: 'PROVIDER_UNAVAILABLE' }])
  t.equal(await metric(metrics, 'phone_agent_provider_breaker_state', { role: 'llm', provider: 'groq' }), 1)

  const second = await call()
  t.equal(chats(), 1, 'the second call did not ask the model: its breaker is open')
  t.equal(second.record.turns.find((x) => x.text === APOLOGY)?.role, 'agent', 'the caller heard the apology')
  t.equal(second.result.transfer?.to, '1000', 'and went to the human')
  t.match(second.record.errors, [{ code: 'PROVIDER_UNAVAILABLE', provider: 'groq' }])
  t.equal(await metric(metrics, 'phone_agent_provider_skipped_total', { role: 'llm', provider: 'groq' }), 1)
})
