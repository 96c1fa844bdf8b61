import { execFile, fork, type ChildProcess } from 'node:child_process'
import { cpus } from 'node:os'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { MemoryStats, ServerReply, ServerRequest, WindowStats } from './capacity-protocol.ts'
import type { CapacityFixture } from './capacity-fixture.ts'

const SERVER = fileURLToPath(new URL('./capacity-server.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('..', import.meta.url))

type Pending = { resolve: (reply: ServerReply) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

/** The forked server under test, seen from the driver: typed requests over IPC, and a hard stop. */
export class ServerChild {
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
    child.on('message', (reply: ServerReply) => {
      if (!('id' in reply)) return
      const p = this.#pending.get(reply.id)
      if (p === undefined) return
      this.#pending.delete(reply.id)
      clearTimeout(p.timer)
      p.resolve(reply)
    })
    child.once('exit', () => {
      this.#exited = true
      for (const p of this.#pending.values()) { clearTimeout(p.timer); p.reject(new Error('capacity server exited')) }
      this.#pending.clear()
    })
  }

  /** Fork the server and wait until it listens (or fails to start). */
  static async start (fixture: CapacityFixture, signal?: AbortSignal): Promise<ServerChild> {
    // cwd is the project root so `--import tsx` resolves from its node_modules.
    const child = fork(SERVER, [fixture.configPath, fixture.logPath], {
      cwd: ROOT,
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    try {
      const [first] = await once(child, 'message', { signal: AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(30_000)]) }) as [ServerReply]
      if (first.type !== 'ready') throw new Error(`capacity server failed to start: ${first.type === 'fatal' ? first.message : first.type}`)
      return new ServerChild(child, first.port)
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
  }

  async request (req: WithoutId<ServerRequest>, timeoutMs = 20_000): Promise<ServerReply> {
    if (this.#exited) throw new Error('capacity server exited')
    const id = this.#nextId++
    return await new Promise<ServerReply>((resolve, reject) => {
      const timer = setTimeout(() => { this.#pending.delete(id); reject(new Error(`capacity server did not answer ${req.type}`)) }, timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      this.#child.send({ ...req, id } as ServerRequest)
    })
  }

  async windowStart (): Promise<void> {
    await this.request({ type: 'window-start' })
  }

  async windowEnd (): Promise<WindowStats> {
    const reply = await this.request({ type: 'window-end' })
    if (reply.type !== 'window') throw new Error(`unexpected reply ${reply.type}`)
    return reply.stats
  }

  async memory (gc: boolean): Promise<MemoryStats> {
    const reply = await this.request({ type: 'memory', gc })
    if (reply.type !== 'memory') throw new Error(`unexpected reply ${reply.type}`)
    return reply.stats
  }

  /** Ask the server to drain and exit; kill it if it does not within `graceMs`. */
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

/**
 * Put the simulator (this process) and the server on different CPUs. Without it, when both
 * want a core at the same moment the server's frame timer fires late, and the driver's load is
 * counted against the server after all. Numeric arguments only, no shell.
 */
export async function pinApart (serverPid: number): Promise<boolean> {
  if (process.platform !== 'linux' || cpus().length < 2) return false
  return await taskset('0', process.pid) && await taskset('1', serverPid)
}

/** Give this process every CPU back (the caller of the bench may run other work after it). */
export async function unpinDriver (): Promise<void> {
  if (process.platform !== 'linux' || cpus().length < 2) return
  await taskset(`0-${cpus().length - 1}`, process.pid)
}

async function taskset (cpuList: string, pid: number): Promise<boolean> {
  return await new Promise((resolve) => {
    execFile('taskset', ['-acp', cpuList, String(pid)], (err) => { resolve(err === null) })
  })
}
