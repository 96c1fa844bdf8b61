import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** What every bench server sends and accepts besides its own messages. */
export interface BaseReply { readonly type: string, readonly id?: number, readonly port?: number, readonly message?: string }
type Pending<R> = { resolve: (reply: R) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }
export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never

/**
 * A server under test forked from a bench driver: typed requests over IPC matched by id, a
 * start that waits for `ready`, and a stop that kills it if it does not exit. The capacity and
 * turns benches each extend it with their own requests.
 */
export class ForkedServer<Req extends { readonly type: string, readonly id: number }, Reply extends BaseReply> {
  readonly port: number
  readonly pid: number
  readonly #name: string
  readonly #child: ChildProcess
  readonly #pending = new Map<number, Pending<Reply>>()
  #nextId = 1
  #exited = false

  protected constructor (name: string, child: ChildProcess, port: number) {
    this.#name = name
    this.#child = child
    this.port = port
    this.pid = child.pid ?? 0
    child.on('message', (reply: Reply) => {
      if (typeof reply.id !== 'number') return
      const p = this.#pending.get(reply.id)
      if (p === undefined) return
      this.#pending.delete(reply.id)
      clearTimeout(p.timer)
      p.resolve(reply)
    })
    child.once('exit', () => {
      this.#exited = true
      for (const p of this.#pending.values()) { clearTimeout(p.timer); p.reject(new Error(`${name} exited`)) }
      this.#pending.clear()
    })
  }

  /** Fork `script` and wait until it listens (or fails to start); returns the child, its port and its whole `ready` message. */
  protected static async fork (name: string, script: URL, args: string[], execArgv: string[], signal?: AbortSignal): Promise<{ child: ChildProcess, port: number, ready: BaseReply & Record<string, unknown> }> {
    // cwd is the project root so `--import tsx` resolves from its node_modules.
    const child = fork(fileURLToPath(script), args, { cwd: ROOT, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    try {
      const [first] = await once(child, 'message', { signal: AbortSignal.any([signal ?? new AbortController().signal, AbortSignal.timeout(30_000)]) }) as [BaseReply]
      if (first.type !== 'ready' || first.port === undefined) throw new Error(`${name} failed to start: ${first.message ?? first.type}`)
      return { child, port: first.port, ready: first as BaseReply & Record<string, unknown> }
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
  }

  async request (req: WithoutId<Req>, timeoutMs = 20_000): Promise<Reply> {
    if (this.#exited) throw new Error(`${this.#name} exited`)
    const id = this.#nextId++
    return await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => { this.#pending.delete(id); reject(new Error(`${this.#name} did not answer ${req.type}`)) }, timeoutMs)
      this.#pending.set(id, { resolve, reject, timer })
      this.#child.send({ ...req, id })
    })
  }

  /** Ask the server to drain and exit; kill it if it does not within `graceMs`. */
  async stop (graceMs = 10_000): Promise<void> {
    if (this.#exited) return
    const exited = once(this.#child, 'exit')
    try {
      await this.request({ type: 'stop' } as WithoutId<Req>, graceMs)
    } catch {
      // Unresponsive or already gone: the kill below settles it.
    }
    const timer = setTimeout(() => { this.#child.kill('SIGKILL') }, this.#exited ? 0 : graceMs)
    await exited
    clearTimeout(timer)
  }
}
