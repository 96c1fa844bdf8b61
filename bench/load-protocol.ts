/**
 * What bench/load.ts (the driver) and bench/load-server.ts (the server under test, a child
 * process) share: the number the calls dial and the messages over the fork IPC channel. Every
 * request carries an id that its reply echoes.
 */
import type { LatencyInput } from '../lib/records/types.ts'
import type { MemoryStats } from './capacity-protocol.ts'

export const LOAD_DID = '+390212345678'

/**
 * The server's memory after a GC. Beside process.memoryUsage(): what V8 has committed for its
 * young generation (new space and new large objects), which it sizes by the allocation rate, not
 * by what is live (up to 3 x 16 MB semi-space on Node 20), and its whole heap's committed size.
 */
export interface LoadMemoryStats extends MemoryStats {
  readonly youngCommitted: number
  readonly heapCommitted: number
}

export interface LoadServerArgs {
  readonly fakesPort: number
  /** A temporary directory: sounds (the TTS cache) and the server's log. */
  readonly dir: string
}

/** One turn's latency waterfall (epoch ms), with the FreeSWITCH channel uuid of its call. */
export type LoadMark = LatencyInput & { readonly uuid: string }

export type LoadRequest =
  | { readonly id: number, readonly type: 'memory' }
  | { readonly id: number, readonly type: 'marks' }
  | { readonly id: number, readonly type: 'stop' }
  /** After a full GC, write a V8 heap snapshot to `path` (bench/load-heap.ts). */
  | { readonly id: number, readonly type: 'snapshot', readonly path: string }

export type LoadReply =
  | { readonly type: 'ready', readonly port: number, readonly metricsPort: number }
  | { readonly type: 'fatal', readonly message: string }
  | { readonly id: number, readonly type: 'memory', readonly stats: LoadMemoryStats }
  | { readonly id: number, readonly type: 'marks', readonly marks: readonly LoadMark[] }
  | { readonly id: number, readonly type: 'stopped' }
  | { readonly id: number, readonly type: 'snapshot', readonly path: string }
