import { execFile } from 'node:child_process'
import { cpus } from 'node:os'
import type { MemoryStats, ServerReply, ServerRequest, WindowStats } from './capacity-protocol.ts'
import type { CapacityFixture } from './capacity-fixture.ts'
import { ForkedServer } from './forked-server.ts'

/** The forked capacity server (bench/capacity-server.ts) seen from the driver. */
export class ServerChild extends ForkedServer<ServerRequest, ServerReply> {
  /** Fork the server and wait until it listens (or fails to start). */
  static async start (fixture: CapacityFixture, signal?: AbortSignal): Promise<ServerChild> {
    const { child, port } = await ForkedServer.fork('capacity server', new URL('./capacity-server.ts', import.meta.url),
      [fixture.configPath, fixture.logPath], ['--expose-gc', '--import', 'tsx'], signal)
    return new ServerChild('capacity server', child, port)
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
}

/**
 * Put the simulator (this process) and the server on different CPUs. Without it, when both
 * want a core at the same moment the server's frame timer fires late, and the driver's load is
 * counted against the server after all. Numeric arguments only, no shell.
 */
export async function pinApart (serverPid: number, server: 'all threads' | 'event loop' = 'all threads'): Promise<boolean> {
  if (process.platform !== 'linux' || cpus().length < 2) return false
  return await taskset('0', process.pid) && await taskset('1', serverPid, server === 'all threads')
}

/** Give this process every CPU back (the caller of the bench may run other work after it). */
export async function unpinDriver (): Promise<void> {
  if (process.platform !== 'linux' || cpus().length < 2) return
  await taskset(`0-${cpus().length - 1}`, process.pid)
}

/** `allThreads` false: only the thread whose id is `pid` (a process's main thread); threads it starts later inherit it. */
export async function taskset (cpuList: string, pid: number, allThreads = true): Promise<boolean> {
  return await new Promise((resolve) => {
    execFile('taskset', [allThreads ? '-acp' : '-cp', cpuList, String(pid)], (err) => { resolve(err === null) })
  })
}
