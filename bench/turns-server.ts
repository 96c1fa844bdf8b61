/**
 * The server under test for bench/turns.ts: the real phone agent (stream media mode) with its
 * loopback provider fakes (OpenAI-compatible STT and LLM over HTTP with the real client, a TTS
 * stub with a fixed delay), in a process of its own so the simulator's work in the driver is
 * not counted against it. The driver forks it with an IPC channel:
 *   node --import tsx bench/turns-server.ts '{"bargeIn":true,"script":"receptionist"}'
 * It reports each turn's latency waterfall (wall-clock marks keyed by call uuid) on request.
 * It removes its temporary sounds directory on `stop`, and exits when the driver goes away.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { createAgentServices } from '../lib/agent/services.ts'
import { startPhoneAgent } from '../lib/app.ts'
import { buildConfig } from '../lib/config/load.ts'
import { OpenAiLlm } from '../lib/llm/openai.ts'
import type { LlmProvider } from '../lib/llm/types.ts'
import { createOpenAiClient } from '../lib/providers/openai-client.ts'
import { ProviderQueue } from '../lib/providers/queue.ts'
import { nullRecorder } from '../lib/records/null-recorder.ts'
import type { CallRecorder, CallStart } from '../lib/records/types.ts'
import { OpenAiStt } from '../lib/speech/stt/openai.ts'
import { FakeOpenAiServer, chatChunk, usageChunk } from '../test/fakes/openai-server.ts'
import { LATENCY, TURNS_DID, replySentences, type Mark, type RigOptions, type TurnsReply, type TurnsRequest } from './turns-protocol.ts'
import { benchSpeaker } from './turns-speaker.ts'

const send = (reply: TurnsReply): void => { process.send?.(reply) }
const PIECES_PER_SENTENCE = 8

/** A sentence in `n` pieces of whole words (the last piece ends the sentence). */
function pieces (sentence: string, n: number): string[] {
  const words = sentence.split(/(?<= )/)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(words.slice(Math.floor(i * words.length / n), Math.floor((i + 1) * words.length / n)).join(''))
  return out.filter((p) => p !== '')
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

function scriptReplies (fake: FakeOpenAiServer, first: number, count: number): void {
  for (let n = first; n < first + count; n++) {
    fake.reply('/v1/audio/transcriptions', { kind: 'json', body: { text: 'Come funziona il servizio?' }, delayMs: LATENCY.sttMs })
    // Token-like pieces, evenly spaced, so each sentence takes llmSentenceMs to stream.
    fake.reply('/v1/chat/completions', {
      kind: 'sse',
      delayMs: LATENCY.llmSentenceMs / PIECES_PER_SENTENCE,
      chunks: [...replySentences(n).flatMap((s) => pieces(s, PIECES_PER_SENTENCE)).map((p) => chatChunk({ content: p })), chatChunk({}, 'stop'), usageChunk(50, 30)],
    })
  }
}

async function main (options: RigOptions): Promise<void> {
  const soundsDir = await mkdtemp(join(tmpdir(), 'pa-bench-turns-'))
  let fake: FakeOpenAiServer | undefined
  let cleaned: Promise<void> | undefined
  // Once: `stop` and the disconnect that follows it both ask.
  const cleanup = async (): Promise<void> => {
    cleaned ??= (async () => {
      await fake?.close()
      await rm(soundsDir, { recursive: true, force: true })
    })()
    await cleaned
  }
  // The driver going away (crash, kill) must not leave the temporary directory behind.
  process.once('disconnect', () => { void cleanup().finally(() => process.exit(0)) })
  try {
    fake = await FakeOpenAiServer.start({ keepAlive: true })
    const config = buildConfig({
      server: { port: 0, commandTimeoutMs: 5000, lingerMs: 50 },
      media: { soundsDir, mode: 'stream', stream: { vad: { endSilenceMs: LATENCY.endSilenceMs }, bargeIn: { enabled: options.bargeIn } } },
      language: 'it-IT',
      routes: { [TURNS_DID]: { script: options.script } },
      transfers: { operator: { type: 'extension', extension: '1000' } },
      agent: { transfers: { human: 'operator' }, deadlines: { noInputMs: 8000, turnMs: 8000, llmFirstTokenMs: 8000, ttsFirstAudioMs: 8000 } },
      guard: { rates: { perCallerPerMinute: 10_000, perCallerPerHour: 100_000, globalPerSecond: 10_000 }, capacity: { maxConcurrent: 10_000 } },
      logging: { level: 'warn' },
    }, process.cwd())
    const logger = pino({ level: 'error' })
    const stats = { renders: 0 }
    const speaker = benchSpeaker(soundsDir, stats)
    const client = createOpenAiClient({ baseUrl: fake.baseUrl, apiKey: 'sk-bench' })
    const retry = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }
    const stt = new OpenAiStt({ client, name: 'whisper', model: 'whisper-1', language: 'it-IT', queue: new ProviderQueue('stt', 1000), retry, timeoutMs: 10_000 })
    const lastText: number[] = []
    const llm = timedLlm(new OpenAiLlm({ client, name: 'openai', model: 'bench', queue: new ProviderQueue('llm', 1000), retry, timeoutMs: 20_000 }), lastText)
    const agentServices = await createAgentServices(config, { renderer: speaker })
    const marks: Mark[] = []
    const records = { begin: (start: CallStart): CallRecorder => ({ ...nullRecorder(start.uuid), latency: (l) => { marks.push({ ...l, uuid: start.uuid }) } }) }
    const agent = await startPhoneAgent(config, { logger, speaker, stt, llm, agent: agentServices, records })

    // 1 ms sampling: the server's share of a 20 ms frame clock is what matters.
    const loop = monitorEventLoopDelay({ resolution: 1 })
    let window = { wall: performance.now(), cpu: process.cpuUsage() }
    const ms = (ns: number): number => ns / 1e6
    const handle = async (req: TurnsRequest): Promise<void> => {
      switch (req.type) {
        case 'script':
          scriptReplies(fake!, req.first, req.count)
          send({ id: req.id, type: 'ok' })
          return
        case 'window-start':
          loop.reset()
          loop.enable()
          window = { wall: performance.now(), cpu: process.cpuUsage() }
          send({ id: req.id, type: 'ok' })
          return
        case 'window-end': {
          loop.disable()
          const cpu = process.cpuUsage(window.cpu)
          const wallMs = performance.now() - window.wall
          send({
            id: req.id,
            type: 'window',
            loop: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
            cpu: wallMs > 0 ? (cpu.user + cpu.system) / 1000 / wallMs : 0,
          })
          return
        }
        case 'results':
          send({ id: req.id, type: 'results', results: { marks, renders: stats.renders, lastText } })
          return
        case 'stop':
          loop.disable()
          await agent.stop(5000)
          await agentServices.close()
          await cleanup()
          send({ id: req.id, type: 'stopped' })
          process.disconnect?.()
      }
    }
    process.on('message', (req: TurnsRequest) => {
      handle(req).catch((err: unknown) => { send({ type: 'fatal', message: (err as Error).message }) })
    })
    send({ type: 'ready', port: agent.server.port })
  } catch (err) {
    await cleanup()
    throw err
  }
}

if (process.send === undefined || process.argv[2] === undefined) {
  console.error('usage: forked by bench/turns.ts with an IPC channel and a JSON RigOptions argument')
  process.exit(2)
}
// The driver owns the run: Ctrl-C reaches the whole process group, and the driver sends `stop`.
process.on('SIGINT', () => {})
main(JSON.parse(process.argv[2]) as RigOptions).catch((err: unknown) => {
  send({ type: 'fatal', message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) })
  process.exit(1)
})
