import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

/**
 * A loopback server speaking the OpenAI REST wire protocol, enough for the real `openai`
 * client: JSON bodies, SSE streams (`data: {...}\n\n` ... `data: [DONE]\n\n`, as in the API
 * reference "Streaming"), multipart uploads and binary audio. Tests script one reply per
 * request and read back what arrived.
 */

export interface MultipartField {
  readonly value: Buffer
  readonly filename?: string | undefined
  readonly contentType?: string | undefined
}

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage['headers']
  readonly body: Buffer
  /** Parsed when the body is JSON. */
  readonly json?: unknown
  /** Parsed when the body is multipart/form-data. */
  readonly fields?: ReadonlyMap<string, MultipartField>
  /** Date.now() when the request's head arrived. */
  readonly at: number
  /** Which connection carried it (1 for the server's first): equal numbers, one reused socket. */
  readonly connection: number
}

export type Reply =
  | { readonly kind: 'json', readonly status?: number, readonly body: unknown, readonly delayMs?: number }
  /** `chunks` are JSON-encoded as SSE data lines; strings in `raw` are written as they are. */
  | { readonly kind: 'sse', readonly chunks: readonly unknown[], readonly done?: boolean, readonly delayMs?: number,
    /** Before the first chunk (a model's time to first token); `delayMs` then separates the chunks. */
    readonly firstDelayMs?: number,
    /** Destroy the socket after this many chunks (a connection reset mid-stream). */
    readonly destroyAfter?: number, readonly raw?: readonly string[] }
  /**
   * `chunkSize` writes the body in pieces of that many bytes (chunked transfer encoding),
   * `delayMs` apart; `firstDelayMs` (default `delayMs`) before the headers and first piece.
   * `hold` keeps the rest back after `afterChunks` pieces until `until` settles.
   */
  | { readonly kind: 'bytes', readonly body: Buffer, readonly contentType: string, readonly delayMs?: number, readonly chunkSize?: number,
    readonly firstDelayMs?: number, readonly hold?: { readonly afterChunks: number, readonly until: Promise<unknown> } }
  /** Accept the request and never answer: for deadlines. */
  | { readonly kind: 'hang' }

export class FakeOpenAiServer {
  readonly requests: RecordedRequest[] = []
  readonly #server: Server
  readonly #replies = new Map<string, Reply[]>()
  readonly #sockets = new Set<Socket>()
  /** Sockets that carried a request; see `openConnections`. */
  readonly #requestSockets = new Set<Socket>()
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #closeWaiters: Array<() => void> = []
  /** Requests whose client went away before we finished answering. */
  clientAborts = 0
  /** Body pieces of `bytes` replies written so far, over all requests. */
  bodyChunksSent = 0
  #port = 0
  /** Answer with keep-alive instead of `connection: close` (tests of connection reuse). */
  readonly #keepAlive: boolean
  readonly #connectionIds = new WeakMap<Socket, number>()
  /** Connections accepted so far. */
  connectionsAccepted = 0

  private constructor (keepAlive: boolean) {
    this.#keepAlive = keepAlive
    this.#server = createServer((req, res) => { this.#handle(req, res) })
    this.#server.on('connection', (socket: Socket) => {
      this.#connectionIds.set(socket, ++this.connectionsAccepted)
      this.#sockets.add(socket)
      socket.on('close', () => {
        this.#sockets.delete(socket)
        this.#requestSockets.delete(socket)
        if (this.#requestSockets.size === 0) for (const w of this.#closeWaiters.splice(0)) w()
      })
    })
  }

  static async start (options: { keepAlive?: boolean } = {}): Promise<FakeOpenAiServer> {
    const fake = new FakeOpenAiServer(options.keepAlive === true)
    await new Promise<void>(resolve => fake.#server.listen(0, '127.0.0.1', resolve))
    fake.#port = (fake.#server.address() as AddressInfo).port
    return fake
  }

  get baseUrl (): string { return `http://127.0.0.1:${this.#port}/v1` }
  /**
   * Open connections that carried a request. Node's bundled undici opens one extra, never-used
   * connection when a streaming fetch is aborted and lets it idle out after its 4 s keep-alive
   * timeout (nodejs/undici#5845 describes the re-queue behind it); it carries no request and
   * is not ours to close, so it is not counted here (`close()` still ends it).
   */
  get openConnections (): number { return this.#requestSockets.size }

  /** Queue replies for a path such as `/v1/chat/completions`, used in order. */
  reply (path: string, ...replies: Reply[]): void {
    const list = this.#replies.get(path) ?? []
    list.push(...replies)
    this.#replies.set(path, list)
  }

  /** Resolves once no connection that carried a request is open. */
  whenNoConnections (): Promise<void> {
    if (this.#requestSockets.size === 0) return Promise.resolve()
    return new Promise(resolve => this.#closeWaiters.push(resolve))
  }

  async close (): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#server.closeAllConnections()
    await new Promise<void>(resolve => this.#server.close(() => { resolve() }))
  }

  #later (ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.#timers.delete(t); fn() }, ms)
    this.#timers.add(t)
  }

  #handle (req: IncomingMessage, res: ServerResponse): void {
    const at = Date.now()
    this.#requestSockets.add(req.socket)
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => {
      const body = Buffer.concat(parts)
      const path = (req.url ?? '/').split('?')[0] ?? '/'
      const type = req.headers['content-type'] ?? ''
      let json: unknown
      if (type.startsWith('application/json')) {
        try { json = JSON.parse(body.toString('utf8')) } catch { json = undefined }
      }
      const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(type)
      const fields = type.startsWith('multipart/form-data') && boundary ? parseMultipart(body, boundary[1] ?? boundary[2] ?? '') : undefined
      this.requests.push({ method: req.method ?? '', path, headers: req.headers, body, json, fields, at, connection: this.#connectionIds.get(req.socket) ?? 0 })
      res.on('close', () => { if (!res.writableFinished) this.clientAborts++ })
      const reply = this.#replies.get(path)?.shift()
      if (reply === undefined) {
        res.writeHead(500, { 'content-type': 'application/json', ...this.#close() })
        res.end(JSON.stringify({ error: { message: `fake: no reply scripted for ${path}`, type: 'server_error' } }))
        return
      }
      this.#send(reply, res)
    })
  }

  /** The header that ends the connection after the reply, unless keep-alive was asked for. */
  #close (): Record<string, string> {
    return this.#keepAlive ? {} : { connection: 'close' }
  }

  #send (reply: Reply, res: ServerResponse): void {
    // `connection: close` makes every request its own connection, so counting sockets shows
    // whether a request really closed its socket.
    switch (reply.kind) {
      case 'hang':
        return
      case 'json':
        this.#later(reply.delayMs ?? 0, () => {
          res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...this.#close() })
          res.end(JSON.stringify(reply.body))
        })
        return
      case 'bytes': {
        const size = reply.chunkSize ?? reply.body.length
        let offset = 0
        let pieces = 0
        const next = (): void => {
          if (res.destroyed) return
          if (!res.headersSent) res.writeHead(200, { 'content-type': reply.contentType, ...this.#close() })
          if (offset >= reply.body.length) { res.end(); return }
          res.write(reply.body.subarray(offset, offset + size))
          offset += size
          pieces++
          this.bodyChunksSent++
          const hold = reply.hold
          if (hold !== undefined && pieces === hold.afterChunks) {
            const resume = (): void => { this.#later(reply.delayMs ?? 0, next) }
            hold.until.then(resume, resume)
          } else {
            this.#later(reply.delayMs ?? 0, next)
          }
        }
        this.#later(reply.firstDelayMs ?? (reply.chunkSize === undefined ? reply.delayMs ?? 0 : 0), next)
        return
      }
      case 'sse': {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'transfer-encoding': 'chunked' })
        const lines = [...reply.chunks.map(c => `data: ${JSON.stringify(c)}\n\n`), ...(reply.raw ?? [])]
        if (reply.done !== false) lines.push('data: [DONE]\n\n')
        let i = 0
        const next = (): void => {
          if (res.destroyed) return
          // RST, not FIN: a reset is what a crashed proxy or a dropped NAT mapping looks like.
          if (reply.destroyAfter !== undefined && i >= reply.destroyAfter) { res.socket?.resetAndDestroy(); return }
          const line = lines[i++]
          if (line === undefined) {
            // Keep-alive while streaming (a reset then surfaces as an error, as with real servers;
            // undici ends a `connection: close` body quietly on a reset), but close once done so a
            // test can see every connection end.
            const socket = res.socket
            res.end(() => { if (!this.#keepAlive) socket?.destroy() })
            return
          }
          res.write(line)
          this.#later(reply.delayMs ?? 0, next)
        }
        if (reply.firstDelayMs === undefined) next()
        else this.#later(reply.firstDelayMs, next)
      }
    }
  }
}

/** RFC 7578 multipart/form-data, enough for the openai client's uploads. */
function parseMultipart (body: Buffer, boundary: string): Map<string, MultipartField> {
  const fields = new Map<string, MultipartField>()
  const delimiter = Buffer.from(`--${boundary}`)
  let pos = body.indexOf(delimiter)
  while (pos !== -1) {
    const start = pos + delimiter.length
    if (body.subarray(start, start + 2).toString() === '--') break
    const next = body.indexOf(delimiter, start)
    if (next === -1) break
    // Part = CRLF headers CRLF CRLF content CRLF.
    const part = body.subarray(start + 2, next - 2)
    const headerEnd = part.indexOf('\r\n\r\n')
    const headers = part.subarray(0, headerEnd).toString('utf8')
    const value = part.subarray(headerEnd + 4)
    const name = /name="([^"]*)"/.exec(headers)?.[1]
    const filename = /filename="([^"]*)"/.exec(headers)?.[1]
    const contentType = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]
    if (name !== undefined) fields.set(name, { value: Buffer.from(value), filename, contentType })
    pos = next
  }
  return fields
}

/** Chat chunk builder: the fields every chunk carries, as OpenAI sends them. */
export function chatChunk (delta: Record<string, unknown>, finishReason: string | null = null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'fake-model',
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    ...extra,
  }
}

export function usageChunk (promptTokens: number, completionTokens: number): Record<string, unknown> {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created: 1700000000,
    model: 'fake-model',
    choices: [],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  }
}
