/**
 * The load bench's server with worker processes (`LOAD_SERVER_WORKERS=N`, N > 1), wired as
 * `phone-agent serve` with `server.workers: N` wires it (lib/cluster): this primary takes no
 * calls; node:cluster shares the Event Socket port and deals connections to the workers round
 * robin; /metrics merges every process's metrics (the event-loop delay per process, labelled
 * `worker`). Each worker is bench/load-server.ts as it runs alone, answering this primary's
 * requests instead of the driver's. The driver's requests are fanned out and the answers summed
 * (memory) or joined (marks). The `ready` message adds the workers' pids, so the driver can read
 * their threads' CPU from /proc.
 */
import cluster, { type Worker } from 'node:cluster'
import { fileURLToPath } from 'node:url'
import { getHeapSpaceStatistics } from 'node:v8'
import { pino } from 'pino'
import { startOpsServer } from '../lib/ops/http.ts'
import { Metrics, mergedMetrics } from '../lib/ops/metrics.ts'
import type { LoadMark, LoadMemoryStats, LoadReply, LoadRequest, LoadServerArgs } from './load-protocol.ts'

/** What the primary asks a worker besides the driver's own requests. */
export type WorkerRequest = LoadRequest | { readonly id: number, readonly type: 'metrics' }
export type WorkerReply = LoadReply | { readonly id: number, readonly type: 'metrics', readonly json: unknown }

type Reply = WorkerReply & { readonly id?: number }

class WorkerLink {
  readonly #pending = new Map<number, (reply: Reply) => void>()
  #next = 1
  constructor (readonly worker: Worker) {
    worker.on('message', (reply: Reply) => {
      if (typeof reply.id !== 'number') return
      this.#pending.get(reply.id)?.(reply)
      this.#pending.delete(reply.id)
    })
  }

  /** Sends a request and waits for the reply of type `expect`. */
  async ask<T extends Reply['type']> (type: WorkerRequest['type'], expect: T, extra: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Extract<Reply, { type: T }>> {
    const id = this.#next++
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.#pending.delete(id); reject(new Error(`worker ${this.worker.id}: no answer to ${type}`)) }, timeoutMs)
      this.#pending.set(id, (reply) => {
        clearTimeout(timer)
        if (reply.type === expect) resolve(reply as Extract<Reply, { type: T }>)
        else reject(new Error(`worker ${this.worker.id}: ${reply.type} in answer to ${type}`))
      })
      this.worker.send({ id, type, ...extra })
    })
  }
}

export async function runPrimary (args: LoadServerArgs, count: number): Promise<void> {
  const send = (reply: LoadReply & { pids?: number[] }): void => { process.send?.(reply) }
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./load-server.ts', import.meta.url)), args: [JSON.stringify(args)], execArgv: process.execArgv })
  const links: WorkerLink[] = []
  let port = 0
  await Promise.all(Array.from({ length: count }, async () => {
    const worker = cluster.fork()
    links.push(new WorkerLink(worker))
    const ready = await new Promise<Reply>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('exit', (code) => { reject(new Error(`load server worker exited (${String(code)}) before it was ready`)) })
    })
    if (ready.type !== 'ready') throw new Error(`load server worker failed: ${ready.type === 'fatal' ? ready.message : ready.type}`)
    port = ready.port
  }))
  const metrics = new Metrics({ processMetrics: true, processLabels: { worker: 'primary' } })
  const source = mergedMetrics(metrics, async () => await Promise.all(links.map(async (l) => (await l.ask('metrics', 'metrics')).json)))
  const logger = pino({ level: 'warn' })
  const ops = await startOpsServer({ host: '127.0.0.1', port: 0, metrics: source, health: () => ({ ok: true }), logger })

  const handle = async (req: LoadRequest): Promise<void> => {
    switch (req.type) {
      case 'memory': {
        if (global.gc !== undefined) { global.gc(); global.gc() }
        const own = process.memoryUsage()
        const all = await Promise.all(links.map(async (l) => (await l.ask('memory', 'memory')).stats))
        const sum = (key: keyof LoadMemoryStats): number => all.reduce((n, s) => n + s[key], 0)
        const young = getHeapSpaceStatistics().filter((s) => s.space_name.startsWith('new_')).reduce((n, s) => n + s.space_size, 0)
        const stats: LoadMemoryStats = {
          rss: own.rss + sum('rss'), heapUsed: own.heapUsed + sum('heapUsed'), external: own.external + sum('external'),
          arrayBuffers: own.arrayBuffers + sum('arrayBuffers'), activeCalls: sum('activeCalls'),
          youngCommitted: young + sum('youngCommitted'), heapCommitted: own.heapTotal + sum('heapCommitted'),
        }
        send({ id: req.id, type: 'memory', stats })
        return
      }
      case 'marks': {
        const marks: LoadMark[] = (await Promise.all(links.map(async (l) => (await l.ask('marks', 'marks')).marks))).flat()
        send({ id: req.id, type: 'marks', marks })
        return
      }
      case 'snapshot': {
        // One process's heap is what a snapshot can show: the first worker's.
        const reply = await links[0]!.ask('snapshot', 'snapshot', { path: req.path }, 120_000)
        send({ id: req.id, type: 'snapshot', path: reply.path })
        return
      }
      case 'stop':
        await Promise.all(links.map(async (l) => await l.ask('stop', 'stopped')))
        await ops.close()
        send({ id: req.id, type: 'stopped' })
        process.disconnect?.()
    }
  }
  process.on('message', (req: LoadRequest) => {
    handle(req).catch((err: unknown) => { send({ type: 'fatal', message: (err as Error).message }) })
  })
  send({ type: 'ready', port, metricsPort: ops.port, pids: links.map((l) => l.worker.process.pid ?? 0) })
}
