import { createServer, type Server, type Socket } from 'node:net'
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { once } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import { beyondBaseline } from '../helpers/specs.ts'

export interface Frame {
  readonly headers: Record<string, string>
  readonly headerText: string
  readonly body: string
  /** Byte length of the body as received, to check Content-Length. */
  readonly bodyBytes: number
}

/** A bare TCP server standing in for our outbound ESL server, reading frames the way esl does. */
export class RawServer {
  readonly server: Server
  socket: Socket | undefined
  private buf = Buffer.alloc(0)
  private readonly frames: Frame[] = []
  private waiting: Array<(f: Frame | undefined) => void> = []
  closedByPeer = false
  private connectedResolve: (s: Socket) => void = () => {}
  readonly connected = new Promise<Socket>((resolve) => { this.connectedResolve = resolve })

  constructor () {
    this.server = createServer((socket) => {
      this.socket = socket
      socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.parse() })
      socket.on('end', () => { this.closedByPeer = true; for (const w of this.waiting.splice(0)) w(undefined) })
      socket.on('error', () => {})
      this.connectedResolve(socket)
    })
  }

  async listen (): Promise<number> {
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    const addr = this.server.address()
    if (addr === null || typeof addr === 'string') throw new Error('no port')
    return addr.port
  }

  private parse (): void {
    for (;;) {
      const end = this.buf.indexOf('\n\n')
      if (end < 0) return
      const headerText = this.buf.toString('utf8', 0, end)
      const headers: Record<string, string> = {}
      for (const line of headerText.split('\n')) {
        const i = line.indexOf(': ')
        if (i > 0) headers[line.slice(0, i)] = line.slice(i + 2)
      }
      const len = headers['Content-Length'] === undefined ? 0 : Number(headers['Content-Length'])
      if (this.buf.length < end + 2 + len) return
      const bodyBuf = this.buf.subarray(end + 2, end + 2 + len)
      this.buf = this.buf.subarray(end + 2 + len)
      const frame = { headers, headerText, body: bodyBuf.toString('utf8'), bodyBytes: bodyBuf.length }
      const w = this.waiting.shift()
      if (w !== undefined) w(frame)
      else this.frames.push(frame)
    }
  }

  /** The next frame, or undefined when the peer closed; rejects after `ms`. */
  async next (ms = 5000): Promise<Frame | undefined> {
    const f = this.frames.shift()
    if (f !== undefined) return f
    if (this.closedByPeer) return undefined
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting = this.waiting.filter((w) => w !== done); reject(new Error('no frame')) }, ms)
      const done = (fr: Frame | undefined): void => { clearTimeout(timer); resolve(fr) }
      this.waiting.push(done)
    })
  }

  /** Send a command and return the next frame (its reply). */
  async command (text: string): Promise<Frame | undefined> {
    this.socket?.write(text.endsWith('\n\n') ? text : `${text}\n\n`)
    return await this.next()
  }

  async close (): Promise<void> {
    this.socket?.destroy()
    await new Promise<void>((resolve) => this.server.close(() => { resolve() }))
  }
}

/** A WAV file of `ms` milliseconds of a 440 Hz tone (amplitude 8000) or silence. */
export function toneWav (ms: number, amplitude = 8000): Buffer {
  const samples = Math.round(ms * 8)
  const pcm = Buffer.alloc(samples * 2)
  for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.round(amplitude * Math.sin(2 * Math.PI * 440 * i / 8000)), i * 2)
  const header = Buffer.alloc(44)
  header.write('RIFF', 0, 'latin1'); header.writeUInt32LE(36 + pcm.length, 4); header.write('WAVE', 8, 'latin1')
  header.write('fmt ', 12, 'latin1'); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22)
  header.writeUInt32LE(8000, 24); header.writeUInt32LE(16000, 28); header.writeUInt16LE(2, 32); header.writeUInt16LE(16, 34)
  header.write('data', 36, 'latin1'); header.writeUInt32LE(pcm.length, 40)
  return Buffer.concat([header, pcm])
}

/** Handles that keep the event loop alive, minus the test runner's own: for leak checks. */
export function activeHandles (): string[] {
  // Beyond what the process held when this spec's tests began (test/helpers/specs.ts).
  return beyondBaseline(process.getActiveResourcesInfo()).filter((r) => r === 'TCPSocketWrap' || r === 'Timeout' || r === 'TCPServerWrap' || r === 'UDPWrap')
}

export interface Datagram {
  readonly data: Buffer
  /** Date.now() at arrival. */
  readonly at: number
  readonly from: { readonly address: string, readonly port: number }
}

/** Our media endpoint, bare: a UDP socket on loopback that records what FreeSWITCH streams to it. */
export class UdpPeer {
  readonly socket: UdpSocket = createSocket('udp4')
  readonly received: Datagram[] = []

  async bind (): Promise<number> {
    this.socket.on('message', (data, rinfo) => { this.received.push({ data, at: Date.now(), from: { address: rinfo.address, port: rinfo.port } }) })
    this.socket.bind(0, '127.0.0.1')
    await once(this.socket, 'listening')
    return this.socket.address().port
  }

  /** FreeSWITCH's unicast port, learned from the first datagram. */
  get fsPort (): number {
    const first = this.received[0]
    if (first === undefined) throw new Error('nothing received yet')
    return first.from.port
  }

  /** Wait until `count` datagrams have arrived in all; rejects after `ms`. */
  async waitFor (count: number, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms
    while (this.received.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.received.length} of ${count} datagrams`)
      await delay(10)
    }
  }

  async send (data: Buffer, port = this.fsPort): Promise<void> {
    await new Promise<void>((resolve, reject) => { this.socket.send(data, port, '127.0.0.1', (err) => { if (err === null) resolve(); else reject(err) }) })
  }

  async close (): Promise<void> {
    await new Promise<void>((resolve) => { this.socket.close(() => { resolve() }) })
  }
}

/** 20 ms of L16 (little-endian) with every sample equal to `value`. */
export function constantFrame (value: number, samples = 160): Buffer {
  const buf = Buffer.alloc(samples * 2)
  for (let i = 0; i < samples; i++) buf.writeInt16LE(value, i * 2)
  return buf
}
