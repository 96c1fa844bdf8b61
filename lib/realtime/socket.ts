import { createRequire } from 'node:module'
import type WebSocket from 'ws'
import type { Logger } from 'pino'
import { PhoneAgentError, abortReason } from '../errors.ts'
import { AsyncQueue } from '../providers/async-queue.ts'
import type { RealtimeEvent } from './types.ts'

/**
 * The WebSocket under a vendor session: opening with a deadline and the call's signal, JSON in
 * and out, and every way it can end mapped to a PhoneAgentError on the event stream. A vendor
 * file gives `handle` (one parsed message -> events) and decides when set-up is complete.
 */

export interface SocketOptions {
  readonly url: string
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly vendor: string
  readonly openTimeoutMs: number
  readonly signal: AbortSignal
  readonly log: Logger
}

/** HTTP status of a refused upgrade -> our code (the same classes as the REST clients). */
function upgradeError (vendor: string, status: number): PhoneAgentError {
  const code = status === 401 || status === 403
    ? 'PROVIDER_AUTH'
    : status === 429 ? 'PROVIDER_RATE_LIMITED' : status >= 500 ? 'PROVIDER_UNAVAILABLE' : 'PROVIDER_BAD_REQUEST'
  return new PhoneAgentError(code, `${vendor} realtime: the server refused the connection (HTTP ${status})`)
}

export class VendorSocket {
  readonly queue = new AsyncQueue<RealtimeEvent>()
  readonly #ws: WebSocket
  readonly #o: SocketOptions
  #closedByUs = false
  #ready: { resolve: () => void, reject: (err: PhoneAgentError) => void } | undefined
  readonly #readyPromise: Promise<void>
  readonly #onAbort: () => void
  #timer: NodeJS.Timeout | undefined

  constructor (options: SocketOptions, handle: (message: unknown) => void) {
    this.#o = options
    this.#readyPromise = new Promise<void>((resolve, reject) => { this.#ready = { resolve, reject } })
    // Unhandled until open() awaits it: a failure before then must not crash the process.
    this.#readyPromise.catch(() => {})
    // `ws` is loaded by the first realtime or streaming-STT call, not by every process importing the app.
    const WebSocketClass = createRequire(import.meta.url)('ws') as typeof WebSocket
    this.#ws = new WebSocketClass(options.url, { headers: { ...options.headers }, handshakeTimeout: options.openTimeoutMs })
    this.#timer = setTimeout(() => {
      this.#fail(new PhoneAgentError('PROVIDER_TIMEOUT', `${options.vendor} realtime: no session within ${options.openTimeoutMs} ms`))
    }, options.openTimeoutMs)
    this.#ws.on('unexpected-response', (_req, res) => {
      this.#fail(upgradeError(options.vendor, res.statusCode ?? 0))
      res.resume()
    })
    this.#ws.on('error', (err) => {
      this.#fail(new PhoneAgentError('PROVIDER_UNAVAILABLE', `${options.vendor} realtime: connection failed`, { cause: err }))
    })
    this.#ws.on('close', (code) => {
      if (this.#closedByUs) {
        this.queue.end()
        return
      }
      this.#fail(new PhoneAgentError('PROVIDER_UNAVAILABLE', `${options.vendor} realtime: the server closed the session (${code})`))
    })
    this.#ws.on('message', (data, isBinary) => {
      if (this.queue.closed) return
      // Gemini Live sends its JSON in binary frames; OpenAI in text frames. Either is JSON here.
      let message: unknown
      try {
        const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8')
        message = JSON.parse(text)
      } catch (err) {
        this.#fail(new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${options.vendor} realtime: a message that is not JSON (${isBinary ? 'binary' : 'text'})`, { cause: err }))
        return
      }
      if (message === null || typeof message !== 'object' || Array.isArray(message)) {
        this.#fail(new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${options.vendor} realtime: a message that is not a JSON object`))
        return
      }
      try {
        handle(message)
      } catch (err) {
        this.#fail(err instanceof PhoneAgentError ? err : new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${options.vendor} realtime: an unreadable message`, { cause: err }))
      }
    })
    this.#onAbort = () => {
      this.#ready?.reject(abortReason(options.signal))
      this.close()
    }
    if (options.signal.aborted) queueMicrotask(this.#onAbort)
    else options.signal.addEventListener('abort', this.#onAbort, { once: true })
  }

  get isOpen (): boolean { return this.#ws.readyState === this.#ws.OPEN && !this.queue.closed }

  /** Resolves when the vendor acknowledged the set-up (`markReady`); rejects with the failure. */
  async ready (): Promise<void> { await this.#readyPromise }

  /** Once the socket is open (the set-up message goes first). */
  onOpen (fn: () => void): void { this.#ws.once('open', fn) }

  /** The vendor acknowledged the session's set-up. */
  markReady (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#ready?.resolve()
    this.#ready = undefined
  }

  send (message: unknown): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return
    this.#ws.send(JSON.stringify(message))
  }

  close (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#o.signal.removeEventListener('abort', this.#onAbort)
    this.#ready?.reject(new PhoneAgentError('PROVIDER_UNAVAILABLE', `${this.#o.vendor} realtime: closed during set-up`))
    this.#ready = undefined
    if (this.#closedByUs) return
    this.#closedByUs = true
    this.queue.end()
    if (this.#ws.readyState === this.#ws.CONNECTING) this.#ws.terminate()
    else if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(1000)
  }

  /** A failure ends the session: set-up rejects, the event stream rejects, the socket goes. */
  #fail (err: PhoneAgentError): void {
    if (this.#closedByUs) return
    this.#o.log.warn({ code: err.code, vendor: this.#o.vendor }, 'realtime session failed')
    this.#ready?.reject(err)
    this.#ready = undefined
    this.queue.fail(err)
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#closedByUs = true
    this.#o.signal.removeEventListener('abort', this.#onAbort)
    if (this.#ws.readyState === this.#ws.CONNECTING) this.#ws.terminate()
    else if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(1011)
  }

  /** A message that breaks the vendor's protocol: the session cannot go on. */
  static garbage (vendor: string, what: string): PhoneAgentError {
    return new PhoneAgentError('PROVIDER_BAD_RESPONSE', `${vendor} realtime: ${what}`)
  }
}

export function pcmFromBase64 (data: unknown, vendor: string): Int16Array {
  if (typeof data !== 'string') throw VendorSocket.garbage(vendor, 'audio without base64 data')
  const bytes = Buffer.from(data, 'base64')
  if (bytes.length % 2 !== 0) throw VendorSocket.garbage(vendor, 'audio of an odd byte length')
  const out = new Int16Array(bytes.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2)
  return out
}

export function base64FromPcm (pcm: Int16Array): string {
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString('base64')
}
