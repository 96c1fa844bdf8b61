/**
 * Turn latency benchmarks: our own overhead on time to first audio (1, 50, 200 concurrent
 * streamed calls), the gain from sentence streaming, greeting latency and barge-in reaction.
 *
 * Providers are loopback fakes with fixed, known latencies (OpenAI-compatible STT and LLM over
 * HTTP with the real client, a TTS stub with a fixed delay), so what is left is ours. Everything
 * is measured from the caller's side by the FreeSWITCH simulator: when the caller's audio ended
 * and when the first frame of the agent's reply played. The simulator runs in this process, so
 * its own cost is included (it makes the numbers pessimistic, never optimistic).
 */
import { mkdtemp, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { startPhoneAgent } from '../lib/app.ts'
import { createAgentServices } from '../lib/agent/services.ts'
import type { Speaker } from '../lib/call/context.ts'
import { buildConfig } from '../lib/config/load.ts'
import { OpenAiLlm } from '../lib/llm/openai.ts'
import type { LlmProvider } from '../lib/llm/types.ts'
import { encodeWav } from '../lib/media/wav.ts'
import { createOpenAiClient } from '../lib/providers/openai-client.ts'
import { ProviderQueue } from '../lib/providers/queue.ts'
import { OpenAiStt } from '../lib/speech/stt/openai.ts'
import { FakeFreeSwitch } from '../lib/simulator/index.ts'
import { FakeOpenAiServer, chatChunk, usageChunk } from '../test/fakes/openai-server.ts'
import { speechLike } from '../test/media-stream/signals.ts'
import { percentile } from './stats.ts'
import { nullRecorder } from '../lib/records/null-recorder.ts'
import type { CallRecorder, CallStart, LatencyInput } from '../lib/records/types.ts'

/** The fixed provider latencies the fakes are set to. */
export const LATENCY = { sttMs: 150, llmSentenceMs: 200, ttsMs: 100, endSilenceMs: 500 } as const
const DID = '+390212345678'
const SENTENCES = ['Certo, le spiego subito come funziona. ', 'Il servizio è attivo dal lunedì al venerdì. ', 'Posso aiutarla in altro?']
/** TTS audio length per character (~15 characters a second, like a real voice). */
const MS_PER_CHAR = 66

/** Per stage, p50 of the time it took beyond the fake's fixed latency. */
export interface StageOverheads { endpointAndStt: number, llm: number, tts: number, playout: number }

export interface TurnsResult {
  readonly overhead: Array<{ calls: number, p50: number, p99: number, ttfaP50: number, ttfaP99: number, measured: number, stages: StageOverheads }>
  readonly streaming: { ttfaMs: number, wholeReplyMs: number, ratio: number }
  readonly greeting: { p50: number, p99: number, ttsCallsDuringCalls: number, calls: number }
  readonly bargeIn: { p50: number, p99: number, minSpeechMs: number, samples: number }
}

function voiceWav (seconds: number, f0 = 140): Buffer {
  return encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, seconds, -18, { f0 }) })
}

/** A TTS stand-in: a fixed synthesis delay, then a tone as long as the text would take to say. */
function benchSpeaker (soundsDir: string, stats: { renders: number, renderLog: Array<{ text: string, doneAt: number }> }): Speaker {
  return {
    async render (text, options) {
      const path = join(soundsDir, 'cache', `${createHash('sha1').update(text).digest('hex')}.wav`)
      // A cache, like the real one: a phrase rendered once (greetings at start-up) costs nothing.
      const hit = await stat(path).then((st) => st.size, () => 0)
      if (hit > 44) return { path, durationMs: (hit - 44) / 16, cached: true }
      stats.renders++
      await sleep(LATENCY.ttsMs, undefined, { signal: options.signal })
      const samples = new Int16Array(Math.round(8 * Math.max(200, text.length * MS_PER_CHAR)))
      for (let i = 0; i < samples.length; i++) samples[i] = Math.round(6000 * Math.sin(2 * Math.PI * 300 * i / 8000))
      const tmp = `${path}.${Math.random().toString(36).slice(2)}.tmp`
      await mkdir(join(soundsDir, 'cache'), { recursive: true })
      await writeFile(tmp, encodeWav({ sampleRate: 8000, channels: 1, samples }))
      await rename(tmp, path)
      stats.renderLog.push({ text, doneAt: Date.now() })
      return { path, durationMs: samples.length / 8, cached: false }
    },
  }
}

/** LLM wrapper noting when each reply's last text arrived (for the no-streaming baseline). */
function timedLlm (inner: LlmProvider, lastText: number[]): LlmProvider {
  return {
    name: inner.name,
    model: inner.model,
    async * stream (messages, options) {
      let last = 0
      for await (const d of inner.stream(messages, options)) {
        if (d.type === 'text') last = Date.now()
        yield d
      }
      lastText.push(last)
    },
  }
}

async function rig (options: { bargeIn?: boolean, script?: string } = {}) {
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-bench-'))
  const fake = await FakeOpenAiServer.start()
  const config = buildConfig({
    server: { port: 0, commandTimeoutMs: 5000, lingerMs: 50 },
    media: { soundsDir, mode: 'stream', stream: { vad: { endSilenceMs: LATENCY.endSilenceMs }, bargeIn: { enabled: options.bargeIn ?? true } } },
    language: 'it-IT',
    routes: { [DID]: { script: options.script ?? 'receptionist' } },
    transfers: { operator: { type: 'extension', extension: '1000' } },
    agent: { transfers: { human: 'operator' }, deadlines: { noInputMs: 8000, turnMs: 8000, llmFirstTokenMs: 8000, ttsFirstAudioMs: 8000 } },
    guard: { rates: { perCallerPerMinute: 10_000, perCallerPerHour: 100_000, globalPerSecond: 10_000 }, capacity: { maxConcurrent: 10_000 } },
    logging: { level: 'warn' },
  }, process.cwd())
  const logger = pino({ level: 'error' })
  const stats = { renders: 0, renderLog: [] as Array<{ text: string, doneAt: number }> }
  const speaker = benchSpeaker(soundsDir, stats)
  const client = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-bench' })
  const retry = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }
  const stt = new OpenAiStt({ client, name: 'whisper', model: 'whisper-1', language: 'it-IT', queue: new ProviderQueue('stt', 1000), retry, timeoutMs: 10_000 })
  const lastText: number[] = []
  const llm = timedLlm(new OpenAiLlm({ client, name: 'openai', model: 'bench', queue: new ProviderQueue('llm', 1000), retry, timeoutMs: 20_000 }), lastText)
  const agentServices = await createAgentServices(config, { renderer: speaker })
  const marks: Array<LatencyInput & { uuid: string }> = []
  const records = { begin: (start: CallStart): CallRecorder => ({ ...nullRecorder(start.uuid), latency: (l) => { marks.push({ ...l, uuid: start.uuid }) } }) }
  const agent = await startPhoneAgent(config, { logger, speaker, stt, llm, agent: agentServices, records })
  return {
    port: agent.server.port, fake, stats, lastText, marks,
    close: async () => {
      await agent.stop(5000)
      await agentServices.close()
      await fake.close()
      await rm(soundsDir, { recursive: true, force: true })
    },
  }
}

const PIECES_PER_SENTENCE = 8

/** A sentence in `n` pieces of whole words (the last piece ends the sentence). */
function pieces (sentence: string, n: number): string[] {
  const words = sentence.split(/(?<= )/)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(words.slice(Math.floor(i * words.length / n), Math.floor((i + 1) * words.length / n)).join(''))
  return out.filter((p) => p !== '')
}

function scriptReplies (fake: FakeOpenAiServer, n: number): void {
  for (let i = 0; i < n; i++) {
    fake.reply('/v1/audio/transcriptions', { kind: 'json', body: { text: 'Come funziona il servizio?' }, delayMs: LATENCY.sttMs })
    // Token-like pieces, evenly spaced, so each sentence takes llmSentenceMs to stream.
    fake.reply('/v1/chat/completions', {
      kind: 'sse',
      delayMs: LATENCY.llmSentenceMs / PIECES_PER_SENTENCE,
      chunks: [...SENTENCES.flatMap((s) => pieces(s, PIECES_PER_SENTENCE)).map((p) => chatChunk({ content: p })), chatChunk({}, 'stop'), usageChunk(50, 30)],
    })
  }
}

/** Our overhead on time to first audio with `calls` concurrent conversations. */
async function overheadAt (calls: number): Promise<{ overheads: number[], ttfas: number[], stages: StageOverheads }> {
  const r = await rig()
  scriptReplies(r.fake, calls)
  const fs = new FakeFreeSwitch()
  // After the greeting (about 2 s at the stub voice's speaking rate).
  const speakAt = 4000
  const speechMs = 1000
  const t0s = new Map<string, number>()
  try {
    const placed = await Promise.all(Array.from({ length: calls }, async (_, i) => {
      // Spread call starts over two seconds, as real traffic is.
      await sleep(Math.floor((i * 2000) / Math.max(1, calls)))
      const call = fs.placeCall({
        port: r.port, destination: DID, callerNumber: `+39333${String(1000000 + i)}`,
        caller: { audio: [{ atMs: speakAt, wav: voiceWav(speechMs / 1000) }], hangupAtMs: speakAt + speechMs + 6000 },
      })
      // The wall-clock moment of this call's simulator time 0, to line up our own timestamps.
      await sleep(500)
      t0s.set(call.uuid, Date.now() - call.nowMs)
      return call
    }))
    const results = await Promise.all(placed.map(async (c) => await c.ended))
    const overheads: number[] = []
    const ttfas: number[] = []
    const stage = { endpointAndStt: [] as number[], llm: [] as number[], tts: [] as number[], playout: [] as number[] }
    for (const [i, res] of results.entries()) {
      const speechEnd = speakAt + speechMs
      const first = placed[i]!.ear.firstHeard(speechEnd, 200)
      if (first === undefined || res.hungUpBy !== 'caller') continue
      const ttfa = first.playMs - speechEnd
      ttfas.push(ttfa)
      overheads.push(ttfa - (LATENCY.endSilenceMs + LATENCY.sttMs + LATENCY.llmSentenceMs + LATENCY.ttsMs))
      const m = r.marks.find((x) => x.uuid === res.uuid && x.firstFrameAt !== undefined)
      const t0 = t0s.get(res.uuid)
      if (m === undefined || t0 === undefined) continue
      stage.endpointAndStt.push(m.sttFinalAt! - (t0 + speechEnd) - LATENCY.endSilenceMs - LATENCY.sttMs)
      stage.llm.push(m.firstSentenceAt! - m.sttFinalAt! - LATENCY.llmSentenceMs)
      stage.tts.push(m.ttsAudioAt! - m.firstSentenceAt! - LATENCY.ttsMs)
      stage.playout.push(t0 + first.playMs - m.ttsAudioAt!)
    }
    return {
      overheads,
      ttfas,
      stages: { endpointAndStt: percentile(stage.endpointAndStt, 50), llm: percentile(stage.llm, 50), tts: percentile(stage.tts, 50), playout: percentile(stage.playout, 50) },
    }
  } finally {
    await fs.close()
    await r.close()
  }
}

/**
 * Sentence streaming versus waiting for the whole reply to be generated and synthesised, both
 * from the moment the transcript is final (the LLM request): what happens before is the same.
 */
async function streamingGain (): Promise<TurnsResult['streaming']> {
  const r = await rig()
  scriptReplies(r.fake, 1)
  const fs = new FakeFreeSwitch()
  const speakAt = 4000
  const call = fs.placeCall({ port: r.port, destination: DID, caller: { audio: [{ atMs: speakAt, wav: voiceWav(1) }], hangupAtMs: speakAt + 9000 } })
  await call.ended
  try {
    const m = r.marks.find((x) => x.sttFinalAt !== undefined && x.firstFrameAt !== undefined)
    const ttfaMs = (m?.firstFrameAt ?? Number.NaN) - (m?.sttFinalAt ?? Number.NaN)
    // The earliest a non-streaming agent could speak: the whole reply generated (its last text,
    // measured), then synthesised in one request. Our TTS stub costs a fixed delay per request;
    // a real provider's time grows with the text, so one request for three sentences is
    // modelled as three of ours (measured, in sequence).
    const llmDoneMs = (r.lastText[0] ?? Number.NaN) - (m?.sttFinalAt ?? Number.NaN)
    const tts = benchSpeaker(await mkdtemp(join(tmpdir(), 'pa-bench-tts-')), { renders: 0, renderLog: [] })
    const t0 = Date.now()
    for (const [i, sentence] of SENTENCES.entries()) await tts.render(`${sentence} ${i}`, {})
    const wholeTtsMs = Date.now() - t0
    const wholeReplyMs = llmDoneMs + wholeTtsMs
    return { ttfaMs, wholeReplyMs, ratio: ttfaMs / wholeReplyMs }
  } finally {
    await r.close()
  }
}

/** Socket connect to the first greeting frame, with pre-rendered phrases. */
async function greeting (calls: number): Promise<TurnsResult['greeting']> {
  const r = await rig({ script: 'take-message' })
  const rendersAtStart = r.stats.renders
  const fs = new FakeFreeSwitch()
  const latencies: number[] = []
  try {
    for (let i = 0; i < calls; i++) {
      const call = fs.placeCall({ port: r.port, destination: DID, callerNumber: `+39333${String(2000000 + i)}`, caller: { hangupAtMs: 1500 } })
      await call.ended
      const first = call.ear.firstHeard(0, 200)
      if (first !== undefined) latencies.push(first.playMs)
    }
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), ttsCallsDuringCalls: r.stats.renders - rendersAtStart, calls }
  } finally {
    await r.close()
  }
}

/** Caller speech onset to the agent's audio stopping, during a streamed reply. */
async function bargeIn (samples: number): Promise<TurnsResult['bargeIn']> {
  const r = await rig()
  const minSpeechMs = 300
  const reactions: number[] = []
  try {
    for (let i = 0; i < samples; i++) {
      scriptReplies(r.fake, 2)
      const fs = new FakeFreeSwitch()
      const call = fs.placeCall({ port: r.port, destination: DID, callerNumber: `+39333${String(3000000 + i)}`, caller: { audio: [{ atMs: 4000, wav: voiceWav(0.8) }], hangupAtMs: 15_000 } })
      let bargeAt: number | undefined
      while (!call.hungUp && bargeAt === undefined) {
        const reply = call.ear.firstHeard(4800, 200)
        if (reply !== undefined && call.nowMs > reply.playMs + 400) {
          bargeAt = call.nowMs + 10
          call.say(bargeAt, voiceWav(1.2, 180))
        }
        await sleep(5)
      }
      await sleep(1500)
      call.hangup()
      await call.ended
      const stopped = call.ear.lastHeardEndMs((bargeAt ?? 0) + 1200, 200)
      if (bargeAt !== undefined && stopped !== undefined) reactions.push(stopped - bargeAt - minSpeechMs)
    }
    return { p50: percentile(reactions, 50), p99: percentile(reactions, 99), minSpeechMs, samples: reactions.length }
  } finally {
    await r.close()
  }
}

export async function runTurnsBench (options: { concurrency?: readonly number[], log?: (line: string) => void } = {}): Promise<TurnsResult> {
  const log = options.log ?? (() => {})
  const overhead: TurnsResult['overhead'] = []
  for (const calls of options.concurrency ?? [1, 50, 200]) {
    log(`time to first audio, ${calls} concurrent calls`)
    const { overheads, ttfas, stages } = await overheadAt(calls)
    overhead.push({ calls, p50: percentile(overheads, 50), p99: percentile(overheads, 99), ttfaP50: percentile(ttfas, 50), ttfaP99: percentile(ttfas, 99), measured: overheads.length, stages })
  }
  log('sentence streaming gain')
  const streaming = await streamingGain()
  log('greeting latency')
  const greet = await greeting(20)
  log('barge-in reaction')
  const barge = await bargeIn(10)
  return { overhead, streaming, greeting: greet, bargeIn: barge }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runTurnsBench({ log: (l) => { process.stderr.write(`${l}\n`) } })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
