import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import type { AdmissionStore } from '../guard/store.ts'
import type { LiveCall } from '../notify/call-watch.ts'
import { serveAdmission, type IpcPort } from './admission-ipc.ts'
import { isWorkerMessage, type PrimaryMessage, type WorkerMessage } from './protocol.ts'
import { workerSlotEnv } from './slot.ts'

export interface WorkerPoolOptions {
  readonly count: number
  readonly logger: Logger
  /** The in-memory admission store the workers share; undefined when they use Redis themselves. */
  readonly admission: AdmissionStore | undefined
  /** A call's record is committed in a worker. */
  readonly onEnded: (uuid: string) => void
  /** A worker died with these calls in progress (their records are still open). */
  readonly onLost: (uuids: readonly string[]) => Promise<void>
  /** Workers keep dying: the primary should stop (systemd restarts the service). */
  readonly onCrashLoop: () => void
  readonly restartDelayMs?: number | undefined
}

interface Member {
  readonly worker: Worker
  /** Which share of per-worker resources it has (workerSlotEnv); a replacement takes the same. */
  readonly slot: number
  readonly port: IpcPort<PrimaryMessage, WorkerMessage>
  ready: boolean
  active: number
  live: LiveCall[]
  readonly admission: { releaseAll: () => Promise<void>, stop: () => void } | undefined
}

/** More crashes than this within CRASH_WINDOW_MS is a crash loop, not bad luck. */
const MAX_CRASHES = 5
const CRASH_WINDOW_MS = 60_000
/** A worker that does not answer a metrics request in time is left out of that scrape. */
const METRICS_TIMEOUT_MS = 2_000

/**
 * The primary's worker processes: forks them, listens to what they report, replaces one that
 * dies (its calls are lost: FreeSWITCH hangs them up when the socket drops; their records are
 * marked interrupted and their admission slots freed), and drains them all at shutdown.
 */
export class WorkerPool {
  readonly #o: WorkerPoolOptions
  readonly #members = new Map<number, Member>()
  readonly #crashes: number[] = []
  #stopping = false
  #metricsId = 1
  #allExited: (() => void) | undefined
  #exitCode = 0

  constructor (options: WorkerPoolOptions) {
    this.#o = options
  }

  /** Forks every worker; resolves once all are ready, rejects if one exits first. */
  async start (): Promise<void> {
    const starting = Array.from({ length: this.#o.count }, async (_, slot) => { await this.#fork(slot) })
    await Promise.all(starting)
  }

  activeCalls (): number {
    let n = 0
    for (const m of this.#members.values()) n += m.active
    return n
  }

  /** Calls in progress in every worker, as of each one's last report (at most a second old). */
  live (): LiveCall[] {
    return [...this.#members.values()].flatMap((m) => m.live).sort((a, b) => a.startedAt - b.startedAt)
  }

  /** Workers ready to take calls. */
  readyWorkers (): number {
    return [...this.#members.values()].filter((m) => m.ready).length
  }

  /** Every ready worker's metrics as prom-client JSON. */
  async collectMetrics (): Promise<unknown[]> {
    const asks = [...this.#members.values()].filter((m) => m.ready).map(async (m) => await this.#askMetrics(m))
    return (await Promise.all(asks)).filter((json) => json !== undefined)
  }

  /** Asks every worker to drain and exit; resolves with 1 if any exited with an error. */
  async shutdown (): Promise<number> {
    this.#stopping = true
    const done = new Promise<void>((resolve) => { this.#allExited = resolve })
    // A worker still starting has no calls and has not started listening for our messages yet.
    for (const m of this.#members.values()) {
      if (m.ready) m.port.send({ pa: 'shutdown' })
      else m.worker.process.kill('SIGTERM')
    }
    if (this.#members.size === 0) return this.#exitCode
    await done
    return this.#exitCode
  }

  /** A second signal: the operator will not wait; every worker is told to exit at once. */
  kill (): void {
    this.#stopping = true
    for (const m of this.#members.values()) m.worker.process.kill('SIGTERM')
  }

  async #fork (slot: number): Promise<void> {
    const worker = cluster.fork(workerSlotEnv(slot, this.#o.count))
    const port = workerPort(worker)
    const member: Member = {
      worker, slot, port, ready: false, active: 0, live: [],
      admission: this.#o.admission === undefined ? undefined : serveAdmission(this.#o.admission, port),
    }
    this.#members.set(worker.id, member)
    await new Promise<void>((resolve, reject) => {
      port.onMessage((message) => {
        if (message.pa === 'ready' && !member.ready) { member.ready = true; resolve() }
        if (message.pa === 'status') { member.active = message.active; member.live = [...message.live] }
        if (message.pa === 'ended') {
          member.live = member.live.filter((c) => c.uuid !== message.uuid)
          this.#o.onEnded(message.uuid)
        }
      })
      worker.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        const wasReady = member.ready
        this.#members.delete(worker.id)
        member.admission?.stop()
        if (!wasReady) reject(new Error(`worker ${worker.id} exited before it was ready (${signal ?? `exit code ${String(code)}`}); its log says why`))
        void this.#exited(member, code, signal)
      })
    })
  }

  async #exited (member: Member, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const log = this.#o.logger
    const lost = member.live.map((c) => c.uuid)
    // A worker that fails its own drain fails the service's shutdown; one that dies before is
    // replaced, and the service's exit code is not about it.
    if (this.#stopping && code !== 0) this.#exitCode = 1
    await member.admission?.releaseAll()
    if (lost.length > 0) await this.#o.onLost(lost).catch((err: unknown) => { log.error({ err, calls: lost }, 'could not mark the lost calls interrupted') })
    if (this.#stopping) {
      log.info({ worker: member.worker.id, code, signal }, 'worker exited')
      if (this.#members.size === 0) this.#allExited?.()
      return
    }
    if (!member.ready) return // start-up failure: start() rejects and the primary stops
    log.error({ worker: member.worker.id, code, signal, lostCalls: lost.length }, 'worker process died; its calls were lost; starting a new one')
    const now = Date.now()
    this.#crashes.push(now)
    while (this.#crashes.length > 0 && this.#crashes[0]! < now - CRASH_WINDOW_MS) this.#crashes.shift()
    if (this.#crashes.length > MAX_CRASHES) {
      log.error({ crashes: this.#crashes.length, windowSeconds: CRASH_WINDOW_MS / 1000 }, 'workers keep dying; stopping the service')
      this.#o.onCrashLoop()
      return
    }
    await new Promise((resolve) => setTimeout(resolve, this.#o.restartDelayMs ?? 1_000))
    if (this.#stopping) return
    await this.#fork(member.slot).catch((err: unknown) => {
      log.error({ err }, 'the replacement worker failed to start; stopping the service')
      this.#o.onCrashLoop()
    })
  }

  async #askMetrics (member: Member): Promise<unknown> {
    const id = this.#metricsId++
    return await new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => { off(); resolve(undefined) }, METRICS_TIMEOUT_MS)
      const off = member.port.onMessage((message) => {
        if (message.pa !== 'metrics' || message.id !== id) return
        clearTimeout(timer)
        off()
        resolve(message.metrics)
      })
      member.port.send({ pa: 'metrics?', id })
    })
  }
}

function ignore (): void {}

/** A worker's IPC channel as the primary sees it; sends to a worker that has gone are dropped. */
function workerPort (worker: Worker): IpcPort<PrimaryMessage, WorkerMessage> {
  return {
    send: (message) => { if (worker.isConnected()) worker.send(message, undefined, ignore) },
    onMessage: (handler) => {
      const listener = (message: unknown): void => { if (isWorkerMessage(message)) handler(message) }
      worker.on('message', listener)
      return () => { worker.off('message', listener) }
    },
  }
}
