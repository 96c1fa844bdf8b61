/**
 * The load bench's media side: bench/native/media-gen.c (every call's unicast UDP in one native
 * process), built here with the machine's C compiler and driven over a line protocol on its
 * stdin/stdout. `NativeMedia` is a simulator UnicastEngine: pass it as `unicastEngine` in
 * placeCall() and the simulator keeps the Event Socket side while the generator binds, paces
 * and reads the media.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { UnicastEnd, UnicastEngine, UnicastHooks, UnicastParams, UnicastPort, UnicastRecord } from '../lib/simulator/index.ts'
import { alawToLinear, linearToAlaw } from '../lib/simulator/g711.ts'
import { speechLike } from '../test/media-stream/signals.ts'
import { buildNative, closeNative } from './native-build.ts'

/** bench/native/media-gen.c, built with the machine's C compiler; undefined when there is none. */
export async function buildMediaGenerator (): Promise<string | undefined> {
  return await buildNative('media-gen')
}

/**
 * The caller's voice: speech-like audio as the switch hands it out, i.e. through the PCMA
 * codec (encoded and decoded), as raw 8 kHz s16le.
 */
export async function writeCallerSpeech (path: string, seconds = 30): Promise<void> {
  const samples = speechLike(8000, seconds, -20)
  const buf = Buffer.alloc(samples.length * 2)
  for (let i = 0; i < samples.length; i++) buf.writeInt16LE(alawToLinear(linearToAlaw(samples[i] as number)), i * 2)
  await writeFile(path, buf)
}

/** One measuring window of the generator, as it reports it. */
export interface MediaReport {
  readonly wallMs: number
  /** CPU time of the generator over the window (user + system), ms. */
  readonly cpuMs: number
  /** Share of one core: cpuMs / wallMs. */
  readonly cpu: number
  readonly calls: number
  readonly sent: number
  readonly received: number
  readonly sendFailures: number
  /** |interval between two of our datagrams - 20 ms|, from the kernel's receive timestamps. */
  readonly intervals: number
  /** Intervals left out of pacing: over 100 ms with silence at an end (a cold call's keep-alive second; media-gen.c GAP_NS). */
  readonly gaps: number
  readonly pacingP50Ms: number
  readonly pacingP99Ms: number
  readonly pacingMaxMs: number
  /** Replies' first frames (after idle silence or a gap) and their lead bursts: not pacing, counted apart (media-gen.c BURST_NS). */
  readonly starts: number
  readonly leads: number
  /** p99 / max with the first frames and lead bursts counted as pacing (the bench's figure before the ninth session). */
  readonly allP99Ms: number
  readonly allMaxMs: number
  /** How late the generator's own 1 ms ticks woke: its sends are this far off at most. */
  readonly wakeP99Ms: number
  readonly wakeMaxMs: number
  readonly lateTicks: number
}

export interface CallCounts { readonly sent: number, readonly cng: number, readonly received: number }

export interface NativeMediaOptions {
  readonly binary: string
  readonly speechPath: string
  /** Length of one talk cycle (default 10 s) and the share of it the caller talks (default 37 %). */
  readonly cycleMs?: number
  readonly talkPercent?: number
  /**
   * Read (and time) every n-th call's audio only, after its first datagram (default 1: all);
   * the kernel drops the rest. Halves the generator's CPU at hundreds of calls.
   */
  readonly readEvery?: number
}

class GeneratorLink implements UnicastPort {
  readonly selfPaced = true
  #closing = false
  #resolveClosed: () => void = () => {}
  readonly closed = new Promise<void>((resolve) => { this.#resolveClosed = resolve })

  constructor (readonly record: UnicastRecord, readonly id: number, private readonly media: NativeMedia, readonly hooks: UnicastHooks, private readonly cngFrames: number) {}

  get isClosed (): boolean { return this.#closing }

  launch (): void {
    if (this.#closing || this.record.launchedMs !== undefined) return
    this.record.launchedMs = this.hooks.now()
    this.media.write(`start ${this.id} ${this.cngFrames}`)
  }

  /** Never called: the generator sends the caller's frames (selfPaced). */
  sendRead (): boolean { return true }

  deactivate (by: UnicastEnd): void {
    if (this.#closing) return
    this.#closing = true
    this.record.closedMs = this.hooks.now()
    this.record.closedBy = by
    this.media.stop(this)
  }

  stopped (counts: CallCounts): void {
    this.record.framesSent = counts.sent
    this.record.cngFramesSent = counts.cng
    this.record.datagramsReceived = counts.received
    this.#resolveClosed()
  }
}

export class NativeMedia implements UnicastEngine {
  /** Live connections whose generator socket has received our audio. */
  readonly flowing = new Set<number>()
  /** Connections that ever received our audio, closed ones included. */
  flowed = 0
  readonly #child: ChildProcessWithoutNullStreams
  readonly #binds = new Map<number, (reply: { port: number } | { failed: string }) => void>()
  readonly #links = new Map<number, GeneratorLink>()
  /** Replies that come back in request order (ok, report, calls). */
  readonly #ordered: Array<(lines: string[]) => void> = []
  #calls: string[] = []
  /** Activations FreeSWITCH (the generator) could not bind: calls that can never stream. */
  readonly #failed: string[] = []
  #nextId = 1
  #exited = false

  private constructor (child: ChildProcessWithoutNullStreams) {
    this.#child = child
    child.stderr.on('data', (d: Buffer) => { process.stderr.write(`media-gen: ${d.toString()}`) })
    child.stdin.on('error', () => {})
    child.once('exit', () => {
      this.#exited = true
      for (const done of this.#binds.values()) done({ failed: 'media-gen exited' })
      this.#binds.clear()
      for (const link of this.#links.values()) link.stopped({ sent: link.record.framesSent, cng: link.record.cngFramesSent, received: link.record.datagramsReceived })
      this.#links.clear()
      for (const w of this.#ordered.splice(0)) w([])
    })
    createInterface({ input: child.stdout }).on('line', (line) => { this.#onLine(line) })
  }

  static async start (options: NativeMediaOptions): Promise<NativeMedia> {
    const args = [options.speechPath, String(options.cycleMs ?? 10_000), String(options.talkPercent ?? 37), String(options.readEvery ?? 1)]
    const child = spawn(options.binary, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const media = new NativeMedia(child)
    // Answered once it runs: the binary started and read its speech file.
    const ready = await media.#ask('reset').catch(() => [])
    if (ready.length === 0) throw new Error(`media generator ${options.binary} did not start`)
    return media
  }

  get pid (): number { return this.#child.pid ?? 0 }

  /** UnicastEngine: bind FreeSWITCH's socket in the generator. */
  async activate (params: UnicastParams, hooks: UnicastHooks, cngFrames: number): Promise<{ record: UnicastRecord, link?: UnicastPort }> {
    const record: UnicastRecord = { params, activatedMs: hooks.now(), framesSent: 0, cngFramesSent: 0, datagramsReceived: 0, threadStopped: false }
    // switch_ivr_activate_unicast(): the socket is always SOCK_DGRAM, whatever `transport` says.
    const transport = params.transport.toLowerCase()
    if (transport !== 'udp' && transport !== 'tcp') { record.failed = `Invalid transport ${params.transport}`; return { record } }
    if (this.#exited) { record.failed = 'media generator not running'; return { record } }
    const id = this.#nextId++
    const reply = await new Promise<{ port: number } | { failed: string }>((resolve) => {
      this.#binds.set(id, resolve)
      this.write(`add ${id} ${params.localIp} ${params.localPort} ${params.remoteIp} ${params.remotePort} ${params.native ? 1 : 0}`)
    })
    if ('failed' in reply) {
      record.failed = `Failure creating unicast connection ${params.localIp}:${params.localPort}->${params.remoteIp}:${params.remotePort} (${reply.failed})`
      this.#failed.push(record.failed)
      return { record }
    }
    record.boundPort = reply.port
    const link = new GeneratorLink(record, id, this, hooks, cngFrames)
    this.#links.set(id, link)
    return { record, link }
  }

  /**
   * The live calls that never received a datagram of ours, said so that the server's log can be
   * searched for them: FreeSWITCH's port (where it sent from) and whether the park loop started,
   * and first every activation that could not bind its port. At most `max`.
   */
  neverFlowed (max = 5): string[] {
    const out: string[] = this.#failed.slice(0, max)
    for (const [id, link] of this.#links) {
      if (this.flowing.has(id) || out.length >= max) continue
      const r = link.record
      out.push(`call ${id}: FreeSWITCH port ${r.boundPort ?? '?'} -> ${r.params.remoteIp}:${r.params.remotePort}, ${r.launchedMs === undefined ? 'park loop not started' : 'park loop started'}, ${link.isClosed ? 'closed' : 'open'}`)
    }
    return out
  }

  /** Callers silent (a quiet line) or talking their share of every cycle. */
  async talk (on: boolean): Promise<void> { await this.#ask(`talk ${on ? 1 : 0}`) }

  /** Start a measuring window. */
  async reset (): Promise<void> { await this.#ask('reset') }

  /** The window so far. */
  async report (): Promise<MediaReport> {
    const [line] = await this.#ask('report')
    const v: Record<string, number> = {}
    for (const kv of (line ?? '').split(' ').slice(1)) {
      const [k, n] = kv.split('=')
      if (k !== undefined && n !== undefined) v[k] = Number(n)
    }
    const num = (k: string): number => v[k] ?? Number.NaN
    const cpuMs = num('user_ms') + num('sys_ms')
    const q = (k: string): number => num(k) < 0 ? Number.NaN : num(k)
    return {
      wallMs: num('wall_ms'),
      cpuMs,
      cpu: cpuMs / num('wall_ms'),
      calls: num('calls'),
      sent: num('sent'),
      received: num('received'),
      sendFailures: num('sendfail'),
      intervals: num('intervals'),
      gaps: num('gaps'),
      pacingP50Ms: q('dev_p50_ms'),
      pacingP99Ms: q('dev_p99_ms'),
      pacingMaxMs: num('dev_max_ms'),
      starts: num('starts'),
      leads: num('leads'),
      allP99Ms: q('all_p99_ms'),
      allMaxMs: num('all_max_ms'),
      wakeP99Ms: q('wake_p99_ms'),
      wakeMaxMs: num('wake_max_ms'),
      lateTicks: num('late_ticks'),
    }
  }

  /** Frames sent and received so far, per live connection (keyed by the generator's id). */
  async callCounts (): Promise<Map<number, CallCounts>> {
    const lines = await this.#ask('calls')
    const out = new Map<number, CallCounts>()
    for (const line of lines) {
      const [, id, sent, cng, received] = line.split(' ').map(Number)
      if (id !== undefined) out.set(id, { sent: sent ?? 0, cng: cng ?? 0, received: received ?? 0 })
    }
    return out
  }

  write (line: string): void {
    if (!this.#exited) this.#child.stdin.write(`${line}\n`)
  }

  stop (link: GeneratorLink): void {
    if (this.#exited) { link.stopped({ sent: link.record.framesSent, cng: link.record.cngFramesSent, received: link.record.datagramsReceived }); return }
    this.write(`stop ${link.id}`)
  }

  /** Stop the generator (it also exits by itself when our end of its stdin closes). */
  async close (): Promise<void> {
    if (this.#exited) return
    await closeNative(this.#child)
  }

  async #ask (line: string): Promise<string[]> {
    if (this.#exited) throw new Error('media generator not running')
    return await new Promise((resolve) => {
      this.#ordered.push(resolve)
      this.write(line)
    })
  }

  #onLine (line: string): void {
    const [kind, a, b, c, d] = line.split(' ')
    const id = Number(a)
    switch (kind) {
      case 'bound': this.#binds.get(id)?.({ port: Number(b) }); this.#binds.delete(id); return
      case 'failed': this.#binds.get(id)?.({ failed: b ?? 'unknown' }); this.#binds.delete(id); return
      case 'stopped': this.#links.get(id)?.stopped({ sent: Number(b), cng: Number(c), received: Number(d) }); this.#links.delete(id); this.flowing.delete(id); return
      case 'flow': this.flowing.add(id); this.flowed++; return
      case 'sendfail': {
        // switch_ivr_park(): a failed sendto() deactivates whatever CF_UNICAST refers to.
        const link = this.#links.get(id)
        if (link !== undefined) link.hooks.sendFailed(link)
        return
      }
      case 'call': this.#calls.push(line); return
      case 'end': { const calls = this.#calls; this.#calls = []; this.#ordered.shift()?.(calls); return }
      case 'ok': case 'report': this.#ordered.shift()?.([line]); return
      default: process.stderr.write(`media-gen said: ${line}\n`)
    }
  }
}
