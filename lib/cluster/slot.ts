/**
 * A worker's slot: which of `server.workers` it is, told by the primary at fork and kept by a
 * replacement. Resources a worker cannot take from the kernel alone are split by it: FreeSWITCH's
 * `local-port` for unicast (lib/call/stream/freeswitch-port.ts), which only FreeSWITCH binds, so
 * two workers picking the same one would learn of it only as a stream that never starts.
 */
const SLOT_ENV = 'PHONE_AGENT_WORKER_SLOT'

export interface WorkerSlot {
  readonly slot: number
  readonly slots: number
}

/** The environment a worker is forked with. */
export function workerSlotEnv (slot: number, slots: number): Record<string, string> {
  return { [SLOT_ENV]: `${slot}/${slots}` }
}

/** The slot the primary gave this worker; undefined when none was given (or it is not one of ours). */
export function workerSlotFromEnv (env: NodeJS.ProcessEnv): WorkerSlot | undefined {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(env[SLOT_ENV] ?? '')
  if (m === null) return undefined
  const slot = Number(m[1])
  const slots = Number(m[2])
  return slots >= 1 && slot < slots ? { slot, slots } : undefined
}
