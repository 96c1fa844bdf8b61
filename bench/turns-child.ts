import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { LoopDelay } from './capacity-protocol.ts'
import type { RigOptions, TurnsReply, TurnsRequest, TurnsResults } from './turns-protocol.ts'

const SERVER = fileURLToPath(new URL('./turns-server.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('..', import.meta.url))

type Pending = { resolve: (reply: TurnsReply) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

/**
 * The forked turns server (bench/turns-server.ts) seen from the driver: typed requests over
 * IPC, and a stop that kills it if it does not exit. Shaped like capacity-child.ts's
 * ServerChild, which is bound to the capacity server's fixture.
 */
export class TurnsChild {
  readonly port: number
  readonly pid: number
  readonly #child: ChildProcess
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #exited = false

  private constructor (child: ChildProcess, port: number) {
    this.#child = child
    this.port = port
    this.pid = child.pid ?? 0
    child.on('message', (reply: TurnsReply) => {
      if (!('id' in reply)) return
      const p = this.#pending.get(reply.id)
      if (p === undefined) return
      this.#pending.delete(reply.id)
      clearTimeout(p.timer)
      p.resolve(reply)
    })
    child.once('exit', () => {
      this.#exited = true
      for (const p of this.#pending.values()) { clearTimeout(p.timer); p.reject(new Error('turns server exited')) }
      this.#pending.clear()
    })
  }

  /** Fork the server and wait until it listens (or fails to start). */
  static async start (options: RigOptions, signal?: AbortSignal): Promise<TurnsChild> {
    // cwd is the project root so `--import tsx` resolves from its node_modules.
    const child = fork(SERVER, [JSON.stringify(options)], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    try {
      const [first] = await once(child, 'message', { signal: AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(30_000)]) }) as [TurnsReply]
      if (first.type !== 'ready') throw new Error(`turns server failed to start: ${first.type === 'fatal' ? first.message : first.type}`)
      return new TurnsChild(child, first.port)
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
  }

  async request (req: WithoutId<TurnsRequest>, timeoutMs = 20_000): Promise<TurnsReply> {
    if (this.#exited) throw new Error('turns server exited')
    const id = this.#nextId++
    return await new Promise<TurnsReply>((resolve, reject) => {
      const timer = setTimeout(() => { this.#pending.delete(id); reject(new Error(`turns server did not answer ${req.type}`)) }, timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      this.#child.send({ ...req, id } as TurnsRequest)
    })
  }

  /** Queue the provider replies of conversations first .. first + count - 1. */
  async script (first: number, count: number): Promise<void> {
    await this.request({ type: 'script', first, count })
  }

  async windowStart (): Promise<void> {
    await this.request({ type: 'window-start' })
  }

  async windowEnd (): Promise<{ loop: LoopDelay, cpu: number }> {
    const reply = await this.request({ type: 'window-end' })
    if (reply.type !== 'window') throw new Error(`unexpected reply ${reply.type}`)
    return { loop: reply.loop, cpu: reply.cpu }
  }

  async results (): Promise<TurnsResults> {
    const reply = await this.request({ type: 'results' })
    if (reply.type !== 'results') throw new Error(`unexpected reply ${reply.type}`)
    return reply.results
  }

  /** Ask the server to drain, clean up and exit; kill it if it does not within `graceMs`. */
  async stop (graceMs = 10_000): Promise<void> {
    if (this.#exited) return
    const exited = once(this.#child, 'exit')
    try {
      await this.request({ type: 'stop' }, graceMs)
    } catch {
      // Unresponsive or already gone: the kill below settles it.
    }
    const timer = setTimeout(() => { this.#child.kill('SIGKILL') }, this.#exited ? 0 : graceMs)
    await exited
    clearTimeout(timer)
  }
}
