import { isIPv4 } from 'node:net'
import { loadUdpMuxAddon } from '../native/udp-mux-addon.ts'
import type { PortChoice } from './bind.ts'
import { UdpMux, type UdpMuxStats } from './udp-mux.ts'

/** `media.stream.sockets`: every call's media through one batched socket per process, or a socket per call. */
export type MediaSockets = 'shared' | 'per-call'

const muxes = new Map<string, UdpMux>()

/**
 * Why the shared socket cannot be used with these settings (the service then keeps a socket per
 * call and says so once at start-up), or undefined when it can.
 */
export function sharedSocketUnavailable (bindAddress: string): string | undefined {
  if (!isIPv4(bindAddress)) return `the shared media socket is IPv4 only (media.stream.bindAddress ${bindAddress})`
  const load = loadUdpMuxAddon()
  return load.addon === undefined ? load.why : undefined
}

/**
 * The process's shared media socket on `bindAddress` (opened on first use, then kept for the
 * process's life), or undefined when it cannot be used (sharedSocketUnavailable says why).
 * A bind failure throws (the port range is full, or the fixed port is taken). `realtime`
 * (`media.stream.realtimeSend`) counts at the first use only: start-up (sockets-at-start.ts).
 */
export function sharedUdpMux (bindAddress: string, ports: PortChoice | undefined, realtime = false): UdpMux | undefined {
  const open = muxes.get(bindAddress)
  if (open !== undefined) return open
  const load = loadUdpMuxAddon()
  if (load.addon === undefined || !isIPv4(bindAddress)) return undefined
  const mux = UdpMux.open(load.addon, bindAddress, ports ?? 0, undefined, realtime)
  muxes.set(bindAddress, mux)
  return mux
}

/** The counters of this process's shared socket (the first, where several bind addresses were used), or undefined when none is open. */
export function sharedSocketStats (): UdpMuxStats | undefined {
  for (const mux of muxes.values()) return mux.stats
  return undefined
}

/** Close every shared socket (tests; a process that stops taking calls). */
export function closeSharedUdpMuxes (): void {
  for (const mux of muxes.values()) mux.close()
  muxes.clear()
}
