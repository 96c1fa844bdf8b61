import dgram from 'node:dgram'
import { isIP } from 'node:net'
import { PhoneAgentError } from '../../errors.ts'

/**
 * `unicast` needs a port for FreeSWITCH's own side (`local-port`): it binds it and sends the
 * caller's audio from it (switch_ivr_activate_unicast). When FreeSWITCH runs on this host we
 * ask the kernel for a free one; otherwise the operator gives a range open on that host.
 *
 * A port handed to a call stays this process's until the call lets it go (`release`): the
 * kernel's free port is free only until FreeSWITCH binds it, and in a burst of calls a second
 * call's probe could be given the same port in between. FreeSWITCH then fails to bind it for one
 * of the two (switch_ivr_activate_unicast logs "Failure creating unicast connection"; the
 * `unicast` command was answered +OK all the same: mod_event_socket.c answers sendmsg once it is
 * queued, or parsed, whatever the activation returns): that call never streams. The load
 * bench lost one call of 500 at its ramp, most likely so (docs/benchmarks.md, twenty-third session).
 * Another process taking the port in between is not ruled out; that is far rarer (and noticed:
 * unicast-start.ts asks again from another port). Held per process: with `server.workers` each
 * worker takes only its share of the ports (shareFreeswitchPorts), so two never pick the same one.
 */
export interface FreeswitchPort {
  readonly port: number
  /** The call is done with it (its stream ended or never started): another call may have it. Idempotent. */
  release (): void
}

/** Ports handed to calls still holding them, by FreeSWITCH's address. */
const held = new Map<string, Set<number>>()

/** Probes of the kernel for a port no call of ours holds, before giving up (per worker sharing the ports). */
const MAX_PROBES = 32

/** This process's share of the ports: those whose offset from the range's start (the port itself, from the kernel) is `slot` modulo `slots`. */
let share = { slot: 0, slots: 1 }

/**
 * With `server.workers`: worker `slot` of `slots` (a replacement takes the dead one's slot, so
 * shares never overlap) uses every `slots`-th port, from the `slot`-th. One process: all of them.
 */
export function shareFreeswitchPorts (slot: number, slots: number): void {
  if (!Number.isInteger(slots) || slots < 1 || !Number.isInteger(slot) || slot < 0 || slot >= slots) throw new RangeError(`bad worker slot ${slot} of ${slots}`)
  share = { slot, slots }
}

export async function freeswitchLocalPort (address: string, range: { min: number, max: number } | undefined): Promise<FreeswitchPort> {
  let ports = held.get(address)
  if (ports === undefined) held.set(address, ports = new Set())
  const port = range !== undefined ? freeInRange(range, ports) : await freeFromKernel(address, ports)
  if (port === undefined) {
    const whose = share.slots === 1 ? '' : ` this worker may use (worker ${share.slot + 1} of ${share.slots}: one port in ${share.slots})`
    throw new PhoneAgentError('MEDIA_INVALID', range !== undefined
      ? `unicast: every port of media.stream.freeswitchPorts (${range.min}-${range.max})${whose} is held by a call`
      : `unicast: no free port for FreeSWITCH at ${address}${whose} that no call holds`)
  }
  ports.add(port)
  let released = false
  return {
    port,
    release: () => {
      if (released) return
      released = true
      ports.delete(port)
    },
  }
}

/** A random port of this process's share of the range that no call holds; scanning on from a random start, so a busy range still finds one. */
function freeInRange (range: { min: number, max: number }, heldPorts: ReadonlySet<number>): number | undefined {
  const { slot, slots } = share
  const size = Math.max(0, Math.ceil((range.max - range.min + 1 - slot) / slots))
  const start = Math.floor(Math.random() * size)
  for (let i = 0; i < size; i++) {
    const port = range.min + slot + ((start + i) % size) * slots
    if (!heldPorts.has(port)) return port
  }
  return undefined
}

async function freeFromKernel (address: string, heldPorts: ReadonlySet<number>): Promise<number | undefined> {
  const { slot, slots } = share
  for (let i = 0; i < MAX_PROBES * slots; i++) {
    const port = await kernelFreePort(address)
    if (port % slots === slot && !heldPorts.has(port)) return port
  }
  return undefined
}

async function kernelFreePort (address: string): Promise<number> {
  const socket = dgram.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      // exclusive: a cluster worker's bind would otherwise share one primary-held socket (and so
      // one port) with every other worker asking for port 0 (lib/media/stream/bind.ts).
      socket.bind({ port: 0, address, exclusive: true }, () => { socket.off('error', reject); resolve() })
    })
    return socket.address().port
  } finally {
    socket.close()
  }
}
