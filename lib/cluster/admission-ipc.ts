import type { AdmissionStore } from '../guard/store.ts'
import type { AdmissionOp, PrimaryMessage, WorkerMessage } from './protocol.ts'

/**
 * The admission counters when calls are spread over worker processes: one in-memory store in
 * the primary, asked over IPC, so the rate limits and the concurrency cap hold for the service
 * as a whole (a caller cannot get a second allowance by landing on another worker). With
 * `guard.store.type: redis` every worker talks to Redis itself and none of this is used.
 */

/** One end of an IPC channel: `process` in a worker, a `cluster.Worker` in the primary. */
export interface IpcPort<Out, In> {
  send (message: Out): void
  onMessage (handler: (message: In) => void): () => void
}

/**
 * The primary's answer must come quickly; a primary that cannot answer is a failed store, and
 * the guard refuses the call (lib/call/admit.ts: fail closed).
 */
const ANSWER_TIMEOUT_MS = 5_000

/** The worker's AdmissionStore: every call is a request to the primary's store. */
export function ipcAdmissionStore (port: IpcPort<WorkerMessage, PrimaryMessage>): AdmissionStore {
  let next = 1
  const waiting = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }>()
  const off = port.onMessage((message) => {
    if (message.pa !== 'admission') return
    const w = waiting.get(message.id)
    if (w === undefined) return
    waiting.delete(message.id)
    clearTimeout(w.timer)
    if (message.error !== undefined) w.reject(new Error(`admission store (primary process): ${message.error}`))
    else w.resolve(message.value)
  })
  const ask = async <T>(op: AdmissionOp, args: readonly unknown[]): Promise<T> => {
    const id = next++
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new Error(`admission store (primary process): no answer to ${op} in ${ANSWER_TIMEOUT_MS} ms`))
      }, ANSWER_TIMEOUT_MS)
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer })
      try {
        port.send({ pa: 'admission', id, op, args })
      } catch (err) {
        waiting.delete(id)
        clearTimeout(timer)
        reject(new Error('admission store (primary process): the IPC channel is closed', { cause: err }))
      }
    })
  }
  return {
    consume: async (caller, source) => await ask('consume', [caller, source ?? null]),
    consumeFallback: async () => await ask('consumeFallback', []),
    acquire: async (uuid, max, reserve) => await ask('acquire', [uuid, max, reserve ?? null]),
    release: async (uuid) => { await ask('release', [uuid]) },
    active: async () => await ask('active', []),
    close: async () => {
      off()
      for (const [id, w] of waiting) {
        waiting.delete(id)
        clearTimeout(w.timer)
        w.reject(new Error('admission store closed'))
      }
    },
  }
}

/**
 * The primary's side for one worker: runs its requests on the shared store and remembers the
 * slots it holds, so `releaseAll()` frees them when the worker dies with calls in progress
 * (otherwise a crash would shrink the service's capacity until restart).
 */
export function serveAdmission (store: AdmissionStore, port: IpcPort<PrimaryMessage, WorkerMessage>): { releaseAll: () => Promise<void>, stop: () => void } {
  const held = new Set<string>()
  const run = async (op: AdmissionOp, args: readonly unknown[]): Promise<unknown> => {
    switch (op) {
      case 'consume': return await store.consume(text(args[0]), args[1] === null ? undefined : text(args[1]))
      case 'consumeFallback': return await store.consumeFallback()
      case 'acquire': {
        const uuid = text(args[0])
        const reserve = args[2] as { reserved: number, contact: boolean } | null
        const ok = await store.acquire(uuid, Number(args[1]), reserve === null ? undefined : { reserved: Number(reserve.reserved), contact: reserve.contact === true })
        if (ok) held.add(uuid)
        return ok
      }
      case 'release': {
        const uuid = text(args[0])
        held.delete(uuid)
        await store.release(uuid)
        return null
      }
      case 'active': return await store.active()
    }
    throw new Error(`unknown admission operation ${String(op)}`)
  }
  const stop = port.onMessage((message) => {
    if (message.pa !== 'admission') return
    run(message.op, message.args).then(
      (value) => { reply(port, { pa: 'admission', id: message.id, value }) },
      (err: unknown) => { reply(port, { pa: 'admission', id: message.id, error: err instanceof Error ? err.message : String(err) }) },
    )
  })
  return {
    stop,
    releaseAll: async () => {
      const uuids = [...held]
      held.clear()
      await Promise.allSettled(uuids.map(async (uuid) => { await store.release(uuid) }))
    },
  }
}

function text (value: unknown): string {
  if (typeof value !== 'string') throw new Error('admission request with a value that is not a string')
  return value
}

/** A worker that died between asking and hearing back cannot be answered: nothing to do. */
function reply (port: IpcPort<PrimaryMessage, WorkerMessage>, message: PrimaryMessage): void {
  try {
    port.send(message)
  } catch { /* the worker is gone; its slots are released by releaseAll */ }
}
