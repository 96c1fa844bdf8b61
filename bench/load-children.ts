import { fileURLToPath } from 'node:url'
import { ForkedServer } from './forked-server.ts'
import type { LoadMark, LoadMemoryStats, LoadReply, LoadRequest, LoadServerArgs } from './load-protocol.ts'

/**
 * What bin/phone-agent.service starts Node with: a larger first old-space limit, so V8 does not
 * mark the small live heap about once a second (docs/benchmarks.md, eighth session: full GCs 20 -> 4
 * in 18 s at 100 AI calls, loop delay p99 27-30 -> 5-7 ms), and 8 MB semi-spaces, so each
 * scavenge is short (thirteenth session: ~6 ms instead of ~11 at 500 calls). systemd-unit.spec
 * checks the unit.
 */
export const SERVER_NODE_ARGS: readonly string[] = ['--initial-old-space-size=128', '--max-semi-space-size=8']

/** The forked load server (bench/load-server.ts) seen from the driver. */
export class LoadServer extends ForkedServer<LoadRequest, LoadReply> {
  metricsPort = 0
  /** The Node flags the server was started with (besides `--expose-gc` and the TypeScript loader). */
  nodeArgs: readonly string[] = []

  /**
   * The server starts with the flags production's systemd unit gives Node (SERVER_NODE_ARGS);
   * `LOAD_SERVER_NODE_ARGS` adds more to the server alone, after them (Node takes the last of a
   * flag given twice), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
   */
  static async start (args: LoadServerArgs, signal?: AbortSignal, options: { stallRecord?: string } = {}): Promise<LoadServer> {
    const nodeArgs = [...SERVER_NODE_ARGS, ...(process.env.LOAD_SERVER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')]
    // The recorder is TypeScript: imported after tsx, told where to write by the environment the
    // server inherits (the driver and its other children never import it).
    const recorder = options.stallRecord !== undefined ? ['--import', fileURLToPath(new URL('./stall-recorder.ts', import.meta.url))] : []
    if (options.stallRecord !== undefined) process.env.STALL_RECORD = options.stallRecord
    const { child, port, ready } = await ForkedServer.fork('load server', new URL('./load-server.ts', import.meta.url),
      [JSON.stringify(args)], ['--expose-gc', ...nodeArgs, '--import', 'tsx', ...recorder], signal)
      .finally(() => { delete process.env.STALL_RECORD })
    const server = new LoadServer('load server', child, port)
    server.metricsPort = Number(ready.metricsPort)
    server.nodeArgs = nodeArgs
    return server
  }

  async memory (): Promise<LoadMemoryStats> {
    const reply = await this.request({ type: 'memory' })
    if (reply.type !== 'memory') throw new Error(`unexpected reply ${reply.type}`)
    return reply.stats
  }

  /** Write a heap snapshot of the server (after a full GC) to `path`; resolves with the file written. */
  async snapshot (path: string): Promise<string> {
    const reply = await this.request({ type: 'snapshot', path }, 120_000)
    if (reply.type !== 'snapshot') throw new Error(`unexpected reply ${reply.type}`)
    return reply.path
  }

  /** The latency waterfalls recorded since the last call. */
  async marks (): Promise<readonly LoadMark[]> {
    const reply = await this.request({ type: 'marks' })
    if (reply.type !== 'marks') throw new Error(`unexpected reply ${reply.type}`)
    return reply.marks
  }
}

type FakesRequest = { readonly id: number, readonly type: 'cpu' } | { readonly id: number, readonly type: 'stop' }
type FakesReply = { readonly type: string, readonly id?: number, readonly port?: number, readonly cpuMs?: number }

/** The provider fakes (bench/load-fakes.ts) in their own process. */
export class FakesProcess extends ForkedServer<FakesRequest, FakesReply> {
  static async start (signal?: AbortSignal): Promise<FakesProcess> {
    const { child, port } = await ForkedServer.fork('provider fakes', new URL('./load-fakes.ts', import.meta.url), [], ['--import', 'tsx'], signal)
    return new FakesProcess('provider fakes', child, port)
  }

  /** CPU time the fakes have used since they started, ms. */
  async cpuMs (): Promise<number> {
    return (await this.request({ type: 'cpu' })).cpuMs ?? Number.NaN
  }
}
