/**
 * The turn-taking bench's providers and, for the first-audio runs, its simulated FreeSWITCH, in a
 * process of their own (forked by bench/turn-taking-remote.ts), so their work is never counted as
 * the server's overhead: the STT and LLM fakes' HTTP parsing and timers, the TTS fake's, and the
 * simulator's socket reads, writes and write timer no longer run on the server's event loop.
 *   node --import tsx bench/turn-taking-child.ts
 * The latencies stay fixed (STT 100 ms, LLM first token 150 ms, TTS 100 ms plus the run's
 * offset), now timed on this process's loop. Sends {type:'ready', port, ttsPort} over IPC and
 * exits when the driver goes away.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { encodeWav } from '../lib/media/wav.ts'
import { FakeFreeSwitch, type WriteTimer } from '../lib/simulator/index.ts'
import { speechLike } from '../test/media-stream/signals.ts'
import { FakeOpenAiServer, type Reply } from '../test/fakes/openai-server.ts'

export const FAKE = { sttMs: 100, llmFirstTokenMs: 150, ttsMs: 100 }

/** The caller's voice: speech-like sound of `ms` at `atMs` on the call's timeline. */
export function voice (atMs: number, ms: number, f0 = 140): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0 }) }) }
}

/** A request the fakes received: its path, Date.now() at its head, the JSON body of a chat request. */
export interface SeenRequest { readonly path: string, readonly at: number, readonly json?: unknown }
/** The reply's first frame on the simulator's timeline (ms since `connect` was answered). */
export interface FrameTimes { readonly arrivalMs: number, readonly writtenMs: number, readonly playMs: number }

export type ChildRequest =
  /** `fresh`: a new STT and LLM fake (a new rig: nothing scripted for an earlier call is left, no connection kept). */
  | { readonly type: 'reset', readonly id: number, readonly ttsOffsetMs: number, readonly fresh: boolean }
  | { readonly type: 'reply', readonly id: number, readonly path: string, readonly replies: Reply[] }
  | { readonly type: 'seen', readonly id: number }
  | { readonly type: 'call', readonly id: number, readonly port: number, readonly destination: string, readonly callerNumber: string, readonly writeTimer: WriteTimer, readonly speechEndMs: number }
  | { readonly type: 'stop', readonly id: number }

export type ChildReply =
  | { readonly type: 'ready', readonly port: number, readonly ttsPort: number }
  | { readonly type: 'ok', readonly id: number, readonly port?: number }
  | { readonly type: 'seen', readonly id: number, readonly requests: SeenRequest[], readonly ttsAsked?: number, readonly ttsYielded?: number, readonly ttsLateMs: number[] }
  | { readonly type: 'call', readonly id: number, readonly t0: number, readonly frame?: FrameTimes }

/** OpenAI's `pcm` response format: 24 kHz s16le. */
const TTS_RATE = 24_000

/** The tone the in-process fake sent: 2 ms per character (at least 40 ms), 440 Hz. */
function tone (text: string): Buffer {
  const samples = new Int16Array(Math.round(TTS_RATE * Math.max(40, text.length * 2) / 1000))
  for (let i = 0; i < samples.length; i++) samples[i] = Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / TTS_RATE))
  return Buffer.from(samples.buffer)
}

async function main (): Promise<void> {
  const send = (reply: ChildReply): void => { process.send?.(reply) }
  let fake = await FakeOpenAiServer.start({ keepAlive: true })
  const portOf = (f: FakeOpenAiServer): number => Number(new URL(f.baseUrl).port)
  const tts = { offsetMs: 0, asked: undefined as number | undefined, yielded: undefined as number | undefined, late: [] as number[] }
  // `/audio/speech` answers whatever text it is asked for (the greeting's phrases as well as the
  // reply's), so it is a server of its own rather than scripted replies.
  const ttsServer = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => {
      if (req.url !== '/v1/audio/speech') { res.writeHead(404).end(); return }
      tts.asked ??= Date.now()
      const text = String((JSON.parse(Buffer.concat(parts).toString('utf8')) as { input?: unknown }).input ?? '')
      const from = performance.now()
      const wait = FAKE.ttsMs + tts.offsetMs
      setTimeout(() => {
        tts.late.push(performance.now() - from - wait)
        tts.yielded ??= Date.now()
        const body = tone(text)
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
        res.end(body)
      }, wait)
    })
  })
  await new Promise<void>((resolve) => ttsServer.listen(0, '127.0.0.1', resolve))
  const ttsPort = (ttsServer.address() as AddressInfo).port

  process.on('message', (req: ChildRequest) => {
    if (req.type === 'reset') {
      tts.offsetMs = req.ttsOffsetMs
      tts.asked = undefined
      tts.yielded = undefined
      if (!req.fresh) {
        fake.requests.length = 0
        send({ type: 'ok', id: req.id })
        return
      }
      const old = fake
      void Promise.all([old.close(), FakeOpenAiServer.start({ keepAlive: true })]).then(([, next]) => {
        fake = next
        send({ type: 'ok', id: req.id, port: portOf(fake) })
      })
    } else if (req.type === 'reply') {
      fake.reply(req.path, ...req.replies)
      send({ type: 'ok', id: req.id })
    } else if (req.type === 'seen') {
      const requests = fake.requests.map((r) => ({ path: r.path, at: r.at, ...(r.json === undefined ? {} : { json: r.json }) }))
      send({ type: 'seen', id: req.id, requests, ...(tts.asked === undefined ? {} : { ttsAsked: tts.asked }), ...(tts.yielded === undefined ? {} : { ttsYielded: tts.yielded }), ttsLateMs: tts.late.splice(0) })
    } else if (req.type === 'call') {
      const call = new FakeFreeSwitch({ writeTimer: req.writeTimer }).placeCall({ port: req.port, destination: req.destination, callerNumber: req.callerNumber, caller: { audio: [voice(500, 800)] } })
      void call.ended.then(() => {
        // The simulator's clock is Date.now() - its start, set when our `connect` was answered.
        const t0 = Date.now() - call.nowMs
        const f = call.ear.firstHeard(req.speechEndMs, 200)
        send({ type: 'call', id: req.id, t0, ...(f === undefined ? {} : { frame: { arrivalMs: f.arrivalMs, writtenMs: f.writtenMs, playMs: f.playMs } }) })
      })
    } else if (req.type === 'stop') {
      send({ type: 'ok', id: req.id })
      void fake.close().then(() => { ttsServer.closeAllConnections(); ttsServer.close(() => process.exit(0)) })
    }
  })
  process.on('disconnect', () => process.exit(0))
  send({ type: 'ready', port: portOf(fake), ttsPort })
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
