import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'

/**
 * OpenAI's realtime transcription session (GA) on loopback: `GET /v1/realtime?intent=transcription`
 * upgraded to a WebSocket. Like the service it speaks first (`session.created`), answers
 * `session.update` with `session.updated`, takes `input_audio_buffer.append` (base64 24 kHz
 * PCM16), refuses to commit an empty buffer (`input_audio_buffer_commit_empty`), and answers a
 * commit with `input_audio_buffer.committed`, the transcript's `...transcription.delta` pieces and
 * `...transcription.completed`. Each commit takes the next scripted reply; each upgrade may be
 * refused with a scripted HTTP status first.
 */

export type TranscriptionReply =
  | { readonly kind: 'text', readonly pieces: readonly string[], readonly delayMs?: number }
  /** A server `error` event (`type` as the API's `error.type`). */
  | { readonly kind: 'error', readonly type: string, readonly code?: string }
  | { readonly kind: 'failed' }
  | { readonly kind: 'close' }
  | { readonly kind: 'garbage' }
  /** Never answer the commit. */
  | { readonly kind: 'stall' }

export class FakeOpenAiTranscription {
  /** Every client event, in order, over all connections. */
  readonly received: Array<Record<string, unknown>> = []
  readonly upgrades: Array<{ authorization: string | undefined, path: string, intent: string | null }> = []
  /** 24 kHz samples appended per connection, in connection order. */
  readonly samples: number[] = []
  /** Date.now() of every append (audio going up while the caller speaks, not after). */
  readonly appendTimes: number[] = []
  readonly #replies: TranscriptionReply[] = []
  readonly #refusals: number[] = []
  readonly #server: Server
  readonly #wss = new WebSocketServer({ noServer: true })
  readonly #sockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()
  #ids = 0

  private constructor () {
    this.#server = createServer((_req, res) => { res.writeHead(426).end() })
    this.#server.on('connection', (s: Socket) => { this.#sockets.add(s); s.on('close', () => this.#sockets.delete(s)) })
    this.#server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x')
      this.upgrades.push({ authorization: req.headers.authorization, path: url.pathname, intent: url.searchParams.get('intent') })
      const status = this.#refusals.shift()
      if (status !== undefined) {
        socket.end(`HTTP/1.1 ${status} Refused\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"type":"invalid_request_error"}}`)
        return
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => { this.#serve(ws) })
    })
  }

  static async start (): Promise<FakeOpenAiTranscription> {
    const fake = new FakeOpenAiTranscription()
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve))
    return fake
  }

  /** The REST-style base URL a config names (`http://127.0.0.1:<port>/v1`). */
  get baseUrl (): string { return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1` }
  /** Open TCP connections (upgraded sockets included). */
  get openConnections (): number { return this.#sockets.size }

  reply (...replies: TranscriptionReply[]): void { this.#replies.push(...replies) }
  /** Refuse the next upgrades with these HTTP statuses. */
  refuse (...statuses: number[]): void { this.#refusals.push(...statuses) }

  async whenNoConnections (ms = 5000): Promise<void> {
    const until = Date.now() + ms
    while (this.#sockets.size > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10))
  }

  async close (): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    for (const ws of this.#wss.clients) ws.terminate()
    for (const s of this.#sockets) s.destroy()
    this.#wss.close()
    await new Promise<void>((resolve) => this.#server.close(() => { resolve() }))
  }

  #id (prefix: string): string { return `${prefix}_${++this.#ids}` }

  #later (ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.#timers.delete(t); fn() }, ms)
    this.#timers.add(t)
  }

  #serve (ws: WebSocket): void {
    const send = (event: Record<string, unknown>): void => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event_id: this.#id('event'), ...event })) }
    const index = this.samples.push(0) - 1
    let buffered = 0
    let previous: string | null = null
    send({ type: 'session.created', session: { type: 'transcription', id: this.#id('sess') } })
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>
      this.received.push(m)
      switch (m.type) {
        case 'session.update':
          send({ type: 'session.updated', session: m.session })
          return
        case 'input_audio_buffer.append': {
          const n = Buffer.from(String(m.audio), 'base64').length / 2
          buffered += n
          this.appendTimes.push(Date.now())
          this.samples[index] = (this.samples[index] ?? 0) + n
          return
        }
        case 'input_audio_buffer.commit': {
          if (buffered === 0) {
            send({ type: 'error', error: { type: 'invalid_request_error', code: 'input_audio_buffer_commit_empty', message: 'buffer too small' } })
            return
          }
          buffered = 0
          const item = this.#id('item')
          send({ type: 'input_audio_buffer.committed', item_id: item, previous_item_id: previous })
          previous = item
          this.#answer(ws, send, item)
        }
      }
    })
  }

  #answer (ws: WebSocket, send: (e: Record<string, unknown>) => void, item: string): void {
    const r = this.#replies.shift() ?? { kind: 'stall' }
    switch (r.kind) {
      case 'stall': return
      case 'close': ws.close(1011, 'server error'); return
      case 'garbage': ws.send('<html>502 Bad Gateway</html>'); return
      case 'error': send({ type: 'error', error: { type: r.type, code: r.code ?? null, message: r.type } }); return
      case 'failed':
        send({ type: 'conversation.item.input_audio_transcription.failed', item_id: item, content_index: 0, error: { type: 'transcription_error', code: 'audio_unintelligible', message: 'failed' } })
        return
      case 'text': {
        const pieces = [...r.pieces]
        // A client gone mid-transcript stops it: no timer outlives the socket.
        ws.once('close', () => { pieces.length = 0; for (const t of this.#timers) clearTimeout(t); this.#timers.clear() })
        const next = (): void => {
          if (ws.readyState !== ws.OPEN) return
          const piece = pieces.shift()
          if (piece !== undefined) {
            send({ type: 'conversation.item.input_audio_transcription.delta', item_id: item, content_index: 0, delta: piece })
            this.#later(r.delayMs ?? 0, next)
            return
          }
          send({ type: 'conversation.item.input_audio_transcription.completed', item_id: item, content_index: 0, transcript: r.pieces.join(''), usage: { type: 'duration', seconds: 1 } })
        }
        next()
      }
    }
  }
}
