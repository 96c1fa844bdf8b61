import type { LiveCall } from '../notify/call-watch.ts'

/**
 * What the primary and its worker processes say to each other over the cluster's IPC channel
 * (`process.send` / `worker.send`, JSON). Every message carries `pa` so a message of ours is
 * told from Node's own cluster traffic and from anything a dependency might send.
 */

/** An AdmissionStore method the worker asks the primary to run on the one shared store. */
export type AdmissionOp = 'consume' | 'consumeFallback' | 'acquire' | 'release' | 'active'

export type WorkerMessage =
  /** Start-up finished: the worker listens (through the primary) and can take calls. */
  | { readonly pa: 'ready' }
  /** Every second, and once more as the worker drains: its calls, for /healthz and the console. */
  | { readonly pa: 'status', readonly active: number, readonly live: readonly LiveCall[] }
  /** A call's record is committed: the owner's services (notifications, transcripts) take it. */
  | { readonly pa: 'ended', readonly uuid: string }
  | { readonly pa: 'admission', readonly id: number, readonly op: AdmissionOp, readonly args: readonly unknown[] }
  | { readonly pa: 'metrics', readonly id: number, readonly metrics: unknown }

export type PrimaryMessage =
  | { readonly pa: 'admission', readonly id: number, readonly value?: unknown, readonly error?: string }
  | { readonly pa: 'metrics?', readonly id: number }
  /** Drain and exit, as on SIGTERM. */
  | { readonly pa: 'shutdown' }

const WORKER_KINDS = new Set(['ready', 'status', 'ended', 'admission', 'metrics'])
const PRIMARY_KINDS = new Set(['admission', 'metrics?', 'shutdown'])

function kindOf (message: unknown): unknown {
  return typeof message === 'object' && message !== null ? (message as { pa?: unknown }).pa : undefined
}

export function isWorkerMessage (message: unknown): message is WorkerMessage {
  return WORKER_KINDS.has(kindOf(message) as string)
}

export function isPrimaryMessage (message: unknown): message is PrimaryMessage {
  return PRIMARY_KINDS.has(kindOf(message) as string)
}
