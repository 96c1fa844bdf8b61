import t from 'tap'
import pino from 'pino'
import { GeminiLive } from '../../lib/realtime/gemini.ts'
import { OpenAiRealtime } from '../../lib/realtime/openai.ts'
import type { RealtimeEvent, RealtimeSession, RealtimeVendor } from '../../lib/realtime/types.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'
import { FakeGeminiLive } from '../fakes/realtime-gemini.ts'
import { FakeOpenAiRealtime } from '../fakes/realtime-openai.ts'
import type { FakeRealtimeBase, FakeRealtimeOptions } from '../fakes/realtime-core.ts'

const log = pino({ level: 'silent' })
const TOOLS = [{ name: 'end_call', description: 'End the call.', parameters: { type: 'object', properties: { reason: { type: 'string' } }, required: ['reason'] } }]

interface Case {
  readonly name: string
  start (o?: FakeRealtimeOptions): Promise<FakeRealtimeBase & { baseUrl: string }>
  vendor (baseUrl: string): RealtimeVendor
}

const cases: Case[] = [
  { name: 'openai', start: async (o) => await FakeOpenAiRealtime.start(o), vendor: (baseUrl) => new OpenAiRealtime({ model: 'gpt-realtime', apiKey: 'sk-test', baseUrl, voice: 'marin' }) },
  { name: 'gemini', start: async (o) => await FakeGeminiLive.start(o), vendor: (baseUrl) => new GeminiLive({ model: 'gemini-live-2.5-flash-preview', apiKey: 'g-test', baseUrl, voice: 'Kore' }) },
]

async function open (vendor: RealtimeVendor, signal = new AbortController().signal): Promise<RealtimeSession> {
  return await vendor.open({ instructions: 'Be brief.', tools: TOOLS, language: 'it-IT', openTimeoutMs: 2000, signal, log })
}

/** 600 ms of a loud tone then 600 ms of silence, in 20 ms frames at `rate`. */
function utterance (session: RealtimeSession): void {
  const n = session.inputRate / 50
  for (let f = 0; f < 60; f++) {
    const frame = new Int16Array(n)
    if (f < 30) for (let i = 0; i < n; i++) frame[i] = Math.round(10000 * Math.sin(2 * Math.PI * 200 * (f * n + i) / session.inputRate))
    session.sendAudio(frame)
  }
}

async function collect (session: RealtimeSession, until: (e: RealtimeEvent) => boolean): Promise<RealtimeEvent[]> {
  const out: RealtimeEvent[] = []
  for await (const e of session.events) {
    out.push(e)
    if (until(e)) break
  }
  return out
}

for (const c of cases) {
  t.test(`${c.name}: set-up, a caller turn, the reply's audio and text, a tool call, usage`, async (t) => {
    const fake = await c.start()
    t.teardown(async () => { await fake.close() })
    fake.caller('Buongiorno, vorrei chiudere.').reply({ text: 'Va bene, arrivederci.', audioMs: 600, tools: [{ name: 'end_call', args: { reason: 'resolved' } }] })
    const session = await open(c.vendor(fake.baseUrl))
    t.equal(session.outputRate, 24000)
    utterance(session)
    const events = await collect(session, (e) => e.type === 'tool-call')
    const kinds = new Set(events.map((e) => e.type))
    t.ok(kinds.has('audio') && kinds.has('agent-text') && kinds.has('caller-text'), `audio, agent and caller text (${[...kinds].join(', ')})`)
    const audio = events.filter((e) => e.type === 'audio').reduce((n, e) => n + (e.type === 'audio' ? e.pcm.length : 0), 0)
    t.equal(audio, 24000 * 0.6, 'every sample of the reply, at 24 kHz')
    t.equal(events.filter((e) => e.type === 'agent-text').map((e) => e.type === 'agent-text' ? e.text : '').join(''), 'Va bene, arrivederci.')
    t.equal(events.find((e) => e.type === 'caller-text')?.type === 'caller-text' && (events.find((e) => e.type === 'caller-text') as { text: string }).text, 'Buongiorno, vorrei chiudere.')
    const call = events.at(-1)!
    t.match(call, { type: 'tool-call', name: 'end_call' })
    t.same(JSON.parse((call as { args: string }).args), { reason: 'resolved' })
    session.close()
    if (c.name === 'openai') {
      const update = fake.messages('session.update')[0]!.session as Record<string, any>
      t.equal(update.audio.input.format.type, 'audio/pcm', 'PCM in')
      t.equal(update.audio.output.format.rate, 24000, 'PCM out at 24 kHz')
      t.equal(update.audio.input.turn_detection.type, 'server_vad')
      t.equal(update.tools[0].name, 'end_call')
      t.equal((fake as FakeOpenAiRealtime).upgrades[0]!.authorization, 'Bearer sk-test')
    } else {
      const setup = fake.received[0]!.setup as Record<string, any>
      t.equal(setup.model, 'models/gemini-live-2.5-flash-preview')
      t.same(setup.generationConfig.responseModalities, ['AUDIO'])
      t.equal(setup.tools[0].functionDeclarations[0].name, 'end_call')
      t.equal((fake as FakeGeminiLive).upgrades[0]!.key, 'g-test')
      t.match(fake.messages('realtimeInput')[0], { realtimeInput: { audio: { mimeType: 'audio/pcm;rate=16000' } } })
    }
  })

  t.test(`${c.name}: every way set-up fails is a typed error, never a hang`, async (t) => {
    for (const [connect, code] of [[401, 'PROVIDER_AUTH'], [503, 'PROVIDER_UNAVAILABLE'], ['silent', 'PROVIDER_TIMEOUT']] as const) {
      const fake = await c.start({ connect })
      const err = await open(c.vendor(fake.baseUrl)).then(() => undefined, (e: unknown) => e)
      t.ok(isPhoneAgentError(err, code), `${String(connect)} -> ${code} (${(err as Error)?.message})`)
      await fake.close()
    }
    const err = await open(c.vendor('ws://127.0.0.1:1')).then(() => undefined, (e: unknown) => e)
    t.ok(isPhoneAgentError(err, 'PROVIDER_UNAVAILABLE'), 'nothing listening -> PROVIDER_UNAVAILABLE')
  })

  t.test(`${c.name}: a closed socket and a garbage frame end the event stream with an error`, async (t) => {
    for (const [fault, code] of [['close', 'PROVIDER_UNAVAILABLE'], ['garbage', 'PROVIDER_BAD_RESPONSE']] as const) {
      const fake = await c.start()
      fake.caller('Pronto?').reply(fault)
      const session = await open(c.vendor(fake.baseUrl))
      utterance(session)
      const err = await collect(session, () => false).then(() => undefined, (e: unknown) => e)
      t.ok(isPhoneAgentError(err, code), `${fault} -> ${code}`)
      await fake.close()
    }
  })
}

t.test('our adapter opens the URL the official OpenAI SDK builds; the SDK itself forces wss:', async (t) => {
  const { default: OpenAI } = await import('openai')
  const { buildRealtimeURL } = await import('openai/realtime/internal-base')
  // openai@6 realtime/internal-base.mjs buildRealtimeURL sets `url.protocol = 'wss'` whatever the
  // base URL says: its client cannot reach a plain ws:// server (a loopback fake, a local proxy),
  // which is why lib/realtime/openai.ts opens the socket with `ws` and uses only the SDK's types.
  const url = buildRealtimeURL(new OpenAI({ apiKey: 'sk-sdk', baseURL: 'http://127.0.0.1:1/v1' }), { model: 'gpt-realtime' })
  t.equal(url.protocol, 'wss:')
  const fake = await FakeOpenAiRealtime.start()
  t.teardown(async () => { await fake.close() })
  const session = await open(new OpenAiRealtime({ model: 'gpt-realtime', apiKey: 'sk-sdk', baseUrl: `http://127.0.0.1:${fake.port}/v1` }))
  session.close()
  t.equal(`${fake.upgrades[0]!.url}?model=${fake.upgrades[0]!.model}`, url.pathname + url.search, 'same path and query')
  t.equal(fake.upgrades[0]!.authorization, 'Bearer sk-sdk', 'same bearer header')
})
