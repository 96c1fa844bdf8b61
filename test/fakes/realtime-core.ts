import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'

/**
 * What the two realtime vendor fakes share: a loopback WebSocket server, a scripted list of
 * replies and caller transcripts, a crude energy VAD standing in for the vendor's server VAD,
 * and the agent's "voice" (a tone at 24 kHz). The wire shapes live in realtime-openai.ts and
 * realtime-gemini.ts.
 */

export interface FakeReply {
  /** What the agent says (sent as transcript pieces alongside the audio). */
  readonly text: string
  /** Length of the reply's audio; default 40 ms per character, at least 400 ms. */
  readonly audioMs?: number
  /** Function calls the model makes after speaking. */
  readonly tools?: ReadonlyArray<{ readonly name: string, readonly args: unknown }>
}

/** Instead of a reply: close the socket, send a non-JSON frame, or never answer. */
export type FakeFault = 'close' | 'garbage' | 'stall'

export type FakeStep = FakeReply | FakeFault

export interface FakeRealtimeOptions {
  /** How the upgrade goes: accepted, refused with this HTTP status, or accepted and set-up never acknowledged. */
  readonly connect?: 'ok' | 'silent' | number
}

export class FakeRealtimeBase {
  readonly wss: WebSocketServer
  readonly port: number
  /** Every JSON message the client sent, in order. */
  readonly received: Array<Record<string, unknown>> = []
  /** Caller transcripts given out, one per end of caller speech. */
  readonly callerTexts: string[] = []
  readonly steps: FakeStep[] = []
  /** Milliseconds of caller audio received. */
  audioMs = 0
  readonly sockets = new Set<WebSocket>()

  protected constructor (wss: WebSocketServer) {
    this.wss = wss
    this.port = (wss.address() as AddressInfo).port
    wss.on('connection', (ws) => {
      this.sockets.add(ws)
      ws.on('close', () => { this.sockets.delete(ws) })
    })
  }

  protected static async listen (options: FakeRealtimeOptions): Promise<WebSocketServer> {
    const status = typeof options.connect === 'number' ? options.connect : undefined
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      ...(status === undefined ? {} : { verifyClient: (_info: unknown, cb: (ok: boolean, code?: number) => void) => { cb(false, status) } }),
    })
    await once(wss, 'listening')
    return wss
  }

  /** Queue the next replies (or faults), consumed one per reply the fake owes. */
  reply (...steps: FakeStep[]): this { this.steps.push(...steps); return this }

  /** Queue what the caller "said", one per utterance the fake's VAD ends. */
  caller (...texts: string[]): this { this.callerTexts.push(...texts); return this }

  messages (type: string): Array<Record<string, unknown>> {
    return this.received.filter((m) => m.type === type || type in m)
  }

  get openConnections (): number { return this.sockets.size }

  async close (): Promise<void> {
    for (const ws of this.sockets) ws.terminate()
    await new Promise<void>((resolve) => { this.wss.close(() => { resolve() }) })
  }
}

/** The vendor's server VAD, crudely: 20 ms blocks above -30 dBFS are speech. */
export class EnergyVad {
  readonly #rate: number
  #carry: number[] = []
  #loud = 0
  #quiet = 0
  speaking = false

  constructor (rate: number) { this.#rate = rate }

  /** Feed samples; returns 'start' / 'end' when the caller starts or stops speaking. */
  push (pcm: Int16Array): Array<'start' | 'end'> {
    const out: Array<'start' | 'end'> = []
    const block = this.#rate / 50
    for (const s of pcm) {
      this.#carry.push(s)
      if (this.#carry.length < block) continue
      let sum = 0
      for (const x of this.#carry) sum += x * x
      this.#carry = []
      const loud = Math.sqrt(sum / block) > 1000
      if (loud) { this.#loud++; this.#quiet = 0 } else { this.#quiet++; this.#loud = 0 }
      if (!this.speaking && this.#loud >= 4) { this.speaking = true; out.push('start') }
      if (this.speaking && this.#quiet >= 20) { this.speaking = false; out.push('end') }
    }
    return out
  }
}

/** The agent's voice: a 24 kHz tone of `ms`, as base64 PCM16 chunks of 100 ms. */
export function voiceChunks (ms: number, rate = 24_000): string[] {
  const chunks: string[] = []
  const per = rate / 10
  const total = Math.round(rate * ms / 1000)
  for (let start = 0; start < total; start += per) {
    const n = Math.min(per, total - start)
    const buf = Buffer.alloc(n * 2)
    for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 440 * (start + i) / rate)), i * 2)
    chunks.push(buf.toString('base64'))
  }
  return chunks
}

export function pcmOf (base64: string): Int16Array {
  const b = Buffer.from(base64, 'base64')
  const out = new Int16Array(b.length >> 1)
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(i * 2)
  return out
}

export function replyAudioMs (r: FakeReply): number {
  return r.audioMs ?? Math.max(400, r.text.length * 40)
}

/** Split text into as many pieces as there are audio chunks (transcript deltas ride along). */
export function pieces (text: string, n: number): string[] {
  const words = text.split(/(?<= )/)
  const out: string[] = Array.from({ length: Math.max(1, n) }, () => '')
  words.forEach((w, i) => { out[Math.min(out.length - 1, Math.floor(i * out.length / words.length))] += w })
  return out
}

export const tick = async (ms = 5): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
