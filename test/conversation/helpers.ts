import { withTestVad } from '../helpers/agent.ts'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startPhoneAgent, type RunningPhoneAgent } from '../../lib/app.ts'
import { createAgentServices, type AgentServices } from '../../lib/agent/services.ts'
import type { Speaker } from '../../lib/call/context.ts'
import { buildConfig, type Config } from '../../lib/config/load.ts'
import { OpenAiLlm } from '../../lib/llm/openai.ts'
import { createOpenAiClient } from '../../lib/providers/openai-client.ts'
import { ProviderQueue } from '../../lib/providers/queue.ts'
import { pendingProviderTimers } from '../../lib/providers/retry.ts'
import type { CallRecorder, CallStart, EndInput, ErrorInput, LatencyInput, MessageInput, TurnInput, UsageInput } from '../../lib/records/types.ts'
import { OpenAiStt } from '../../lib/speech/stt/openai.ts'
import type { SttProvider } from '../../lib/speech/stt/types.ts'
import { FakeOpenAiServer, chatChunk, usageChunk } from '../fakes/openai-server.ts'
import { captureLogs, type LogRecord } from '../helpers/logs.ts'
import { toneSpeaker, toneWav } from '../helpers/speaker.ts'
import { FakeFreeSwitch, type SimulatedCall } from '../../lib/simulator/index.ts'
import type { PlaceCallOptions } from '../../lib/simulator/types.ts'

export const DID = '+390212345678'
export const CHAT = '/v1/chat/completions'
export const STT = '/v1/audio/transcriptions'
export const CALLER = '+393331234567'

/** What one call reported to its recorder. */
export interface CapturedCall {
  readonly start: CallStart
  readonly turns: TurnInput[]
  readonly latency: LatencyInput[]
  readonly messages: MessageInput[]
  readonly errors: ErrorInput[]
  readonly usage: UsageInput[]
  readonly contacts: string[]
  end: EndInput | undefined
}

export function captureStore (): { begin: (start: CallStart) => CallRecorder, calls: CapturedCall[] } {
  const calls: CapturedCall[] = []
  return {
    calls,
    begin: (start) => {
      const c: CapturedCall = { start, turns: [], latency: [], messages: [], errors: [], usage: [], contacts: [], end: undefined }
      calls.push(c)
      return {
        uuid: start.uuid,
        rejected: () => {},
        answered: () => {},
        contact: (name) => { c.contacts.push(name) },
        turn: (t) => { c.turns.push(t) },
        latency: (l) => { c.latency.push(l) },
        message: (m) => { c.messages.push(m) },
        error: (e) => { c.errors.push(e) },
        usage: (u) => { c.usage.push(u) },
        end: async (e) => { c.end ??= e },
      }
    },
  }
}

export interface ConversationRig {
  readonly agent: RunningPhoneAgent
  readonly services: AgentServices
  readonly config: Config
  readonly port: number
  readonly soundsDir: string
  readonly fake: FakeOpenAiServer
  readonly speaker: ReturnType<typeof toneSpeaker>
  readonly logs: LogRecord[]
  readonly store: ReturnType<typeof captureStore>
  readonly llmQueue: ProviderQueue
  readonly sttQueue: ProviderQueue
  /** Asserts nothing is left running: provider requests, queues, timers. */
  settled (t: Test): Promise<void>
}

export interface RigOptions {
  /** Merged into the config's `agent:` section. */
  readonly agent?: Record<string, unknown>
  readonly transfers?: Record<string, unknown>
  readonly route?: Record<string, unknown>
  /** Contacts JSON written to a file the config names. */
  readonly contacts?: unknown
  /** Clock for business hours. */
  readonly now?: () => Date
  /** Replaces parsed agent settings after validation (values the schema bounds for production). */
  readonly agentOverrides?: Record<string, unknown>
  /** Wraps the tone speaker (slow or failing TTS). */
  readonly wrapSpeaker?: (speaker: Speaker) => Speaker
  readonly llmTimeoutMs?: number
  /** Top-level `scripts:` (name -> module path). */
  readonly scripts?: Record<string, string>
  /** Merged into the config's `media:` section (e.g. `{ mode: 'stream' }`). */
  readonly media?: Record<string, unknown>
  /** Replaces the OpenAI-compatible recogniser (e.g. Google streaming against its fake). */
  readonly stt?: SttProvider
  /** The fake provider server keeps connections open between requests, as real providers do. */
  readonly keepAlive?: boolean
}

/**
 * The real server with the receptionist (or another script) on DID, real OpenAI-compatible STT
 * and LLM clients pointed at the loopback fake, a tone speaker for TTS and a capturing call store.
 */
export async function startRig (t: Test, options: RigOptions = {}): Promise<ConversationRig> {
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-conv-'))
  const fake = await FakeOpenAiServer.start({ keepAlive: options.keepAlive === true })
  // Closed even when the rig fails to start (a config a test got wrong): else its open server
  // holds the process until tap's timeout instead of the test failing at once.
  let started = false
  t.teardown(async () => { if (!started) await fake.close() })
  let contactsFile: string | undefined
  if (options.contacts !== undefined) {
    contactsFile = join(soundsDir, 'contacts.json')
    await writeFile(contactsFile, JSON.stringify(options.contacts))
  }
  const config = buildConfig({
    server: { port: 0, commandTimeoutMs: 3000, lingerMs: 50 },
    media: withTestVad({ soundsDir, mode: 'files', ...options.media }),
    language: 'it-IT',
    routes: { [DID]: { script: 'receptionist', ...options.route } },
    scripts: Object.fromEntries(Object.entries(options.scripts ?? {}).map(([name, module]) => [name, { module }])),
    transfers: options.transfers ?? {
      operator: { type: 'extension', extension: '1000' },
      sales: { type: 'extension', extension: '2000' },
      voicemail: { type: 'extension', extension: 'vm-1000' },
    },
    agent: {
      transfers: { human: 'operator', afterHours: 'voicemail' },
      // A dead-air budget above what a loaded test machine takes: a filler would change what is
      // played in tests that are not about it (test/faults/ sets its own).
      deadlines: { noInputMs: 3000, turnMs: 4000, llmFirstTokenMs: 3000, ttsFirstAudioMs: 3000, deadAirMs: 3000 },
      ...(contactsFile === undefined ? {} : { contacts: { file: contactsFile } }),
      ...options.agent,
    },
  }, process.cwd())
  const { logger, records: logs } = captureLogs()
  const tone = toneSpeaker(soundsDir)
  const speaker = options.wrapSpeaker ? Object.assign(options.wrapSpeaker(tone), { requests: tone.requests }) as ReturnType<typeof toneSpeaker> : tone
  const client = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-test' })
  const retry = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }
  const sttQueue = new ProviderQueue('stt', 4)
  const llmQueue = new ProviderQueue('llm', 4)
  const stt = new OpenAiStt({ client, name: 'whisper', model: 'whisper-1', language: 'it-IT', queue: sttQueue, retry, timeoutMs: 5000 })
  const llm = new OpenAiLlm({ client, name: 'openai', model: 'gpt-test', queue: llmQueue, retry, timeoutMs: options.llmTimeoutMs ?? 10_000 })
  const built = await createAgentServices(config, { renderer: speaker, ...(options.now ? { now: options.now } : {}) })
  const services: AgentServices = options.agentOverrides === undefined
    ? built
    : { ...built, config: { ...built.config, ...options.agentOverrides } as AgentServices['config'], lookupContact: built.lookupContact, now: built.now, close: built.close }
  const store = captureStore()
  const agent = await startPhoneAgent(config, { logger, speaker, stt: options.stt ?? stt, llm, agent: services, records: store })
  started = true
  t.teardown(async () => {
    await agent.stop(5000)
    await services.close()
    await fake.close()
    await rm(soundsDir, { recursive: true, force: true })
  })
  return {
    agent, services, config, port: agent.server.port, soundsDir, fake, speaker, logs, store, llmQueue, sttQueue,
    settled: async (t) => {
      await llmQueue.onIdle()
      await sttQueue.onIdle()
      await fake.whenNoConnections()
      t.equal(fake.openConnections, 0, 'no provider connection left open')
      t.equal(pendingProviderTimers(), 0, 'no provider deadline or backoff timer left')
    },
  }
}

/** The caller's "speech": a loud tone of `ms` at `atMs` on the call timeline. */
export function speech (atMs: number, ms = 700): { atMs: number, wav: Buffer } {
  return { atMs, wav: toneWav(ms, 8000, 300, 12000) }
}

/** A streamed reply: text in pieces, then tool calls, then the finish and usage chunks. */
export function reply (text: string | readonly string[], options: { tools?: ReadonlyArray<{ name: string, args: unknown }>, delayMs?: number } = {}): { kind: 'sse', chunks: unknown[], delayMs?: number } {
  const pieces = typeof text === 'string' ? (text === '' ? [] : [text]) : text
  const chunks: unknown[] = pieces.map((p) => chatChunk({ content: p }))
  options.tools?.forEach((tool, index) => {
    chunks.push(chatChunk({ tool_calls: [{ index, id: `call_${index}`, type: 'function', function: { name: tool.name, arguments: typeof tool.args === 'string' ? tool.args : JSON.stringify(tool.args) } }] }))
  })
  chunks.push(chatChunk({}, options.tools?.length ? 'tool_calls' : 'stop'))
  chunks.push(usageChunk(100, 20))
  return { kind: 'sse', chunks, ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }) }
}

export function transcript (text: string): { kind: 'json', body: unknown } {
  return { kind: 'json', body: { text } }
}

/** The chat request bodies the fake received, in order. */
export function chatRequests (fake: FakeOpenAiServer): Array<{ messages: Array<{ role: string, content: string | null, tool_call_id?: string }>, tools?: Array<{ function: { name: string, parameters: { properties: Record<string, { enum?: string[] }> } } }> }> {
  return fake.requests.filter((r) => r.path === CHAT).map((r) => r.json as never)
}

/** Resolves once `check` holds (polling), or fails after `ms`. */
export async function until (check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** No agent audio this long after we started listening: the script has no greeting. */
const NO_GREETING_MS = 1500
/** Quiet this long after the agent's audio: its greeting is over. */
const GREETING_OVER_MS = 150

/**
 * The moment (call timeline, now) a simulated caller may start their turn: we are listening
 * (our unicast stream in stream mode, the first `record` in files mode) and the agent's greeting,
 * if any, is over. A caller who must be heard speaks relative to this, not to the call's start:
 * on a loaded machine the stream, the record or the greeting came later than a fixed offset
 * allowed, and the words reached nobody (as on a real switch) or talked over the greeting. It is
 * "now", not the moment the condition became true: speech placed in the past is never sent.
 */
export async function callerTurnMs (sim: SimulatedCall): Promise<number> {
  const listening = (): number | undefined => sim.unicast?.activatedMs ?? sim.apps.find((a) => a.name === 'record')?.startMs
  let ended = false
  void sim.ended.then(() => { ended = true })
  await until(() => listening() !== undefined || ended, 30_000)
  const from = listening() ?? sim.nowMs
  // Files mode records once its prompts have played: its greeting is over by then.
  if (sim.unicast === undefined) return sim.nowMs
  await until(() => {
    if (ended) return true
    const agentUntil = sim.ear.lastHeardEndMs(sim.nowMs)
    return agentUntil === undefined || agentUntil < from
      ? sim.nowMs - from >= NO_GREETING_MS
      : sim.nowMs - agentUntil >= GREETING_OVER_MS
  }, 30_000)
  return sim.nowMs
}

/**
 * A call whose caller says `caller.audio`, and whose RTP pauses (`rtpGaps`, `hold`), relative to
 * the start of their turn (callerTurnMs) instead of the call's start; everything else as
 * FakeFreeSwitch.placeCall.
 */
export function placeHeardCall (options: PlaceCallOptions): SimulatedCall {
  const { audio = [], rtpGaps = [], hold = [], ...caller } = options.caller ?? {}
  const call = new FakeFreeSwitch().placeCall({ ...options, caller })
  void callerTurnMs(call).then((start) => {
    for (const clip of audio) call.say(start + clip.atMs, clip.wav)
    for (const gap of [...rtpGaps, ...hold]) call.rtpGap(start + gap.atMs, gap.durationMs)
  })
  return call
}

/**
 * The caller cuts in 100 ms after the agent's first reply starts being heard: `line` said 20 ms
 * later. Returns when they did (undefined until then) and the stop of the watcher.
 */
export function bargeInAfterReplyStarts (rig: ConversationRig, call: SimulatedCall, line: Buffer): { readonly at: number | undefined, stop: () => void } {
  let at: number | undefined
  const watcher = setInterval(() => {
    if (at !== undefined) return
    const replyStart = rig.logs.find((l) => l.msg === 'conversation started') ? call.ear.firstHeard(1800, 200) : undefined
    if (replyStart !== undefined && call.nowMs > replyStart.playMs + 100) {
      at = call.nowMs + 20
      call.say(at, line)
    }
  }, 20)
  return { get at () { return at }, stop: () => { clearInterval(watcher) } }
}

/**
 * A streamed conversation (the product's default detector, Silero) whose model answers the
 * caller's first words with three long sentences, then says goodbye and ends the call: a reply
 * to barge into.
 */
export async function startBargeInRig (t: Test, sentence: string): Promise<ConversationRig> {
  const rig = await startRig(t, { media: { mode: 'stream', stream: { vad: { engine: 'silero' } } } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Basta così, grazie.'))
  rig.fake.reply(CHAT, reply([sentence, sentence, sentence]), reply('Va bene, arrivederci.', { tools: [{ name: 'end_call', args: { reason: 'caller_request' } }] }))
  return rig
}
