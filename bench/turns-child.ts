import { ForkedServer } from './forked-server.ts'
import type { LoopDelay } from './capacity-protocol.ts'
import type { RigOptions, TurnsReply, TurnsRequest, TurnsResults } from './turns-protocol.ts'

/** The forked turns server (bench/turns-server.ts) seen from the driver. */
export class TurnsChild extends ForkedServer<TurnsRequest, TurnsReply> {
  /** Fork the server and wait until it listens (or fails to start). */
  static async start (options: RigOptions, signal?: AbortSignal): Promise<TurnsChild> {
    const { child, port } = await ForkedServer.fork('turns server', new URL('./turns-server.ts', import.meta.url),
      [JSON.stringify(options)], ['--import', 'tsx'], signal)
    return new TurnsChild('turns server', child, port)
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
}
