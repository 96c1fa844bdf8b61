import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { sourcesHash } from './sources.mjs'

/** The C side of lib/media/stream/udp-mux.ts (udp-mux.c says what each call does). */
export interface UdpMuxAddon {
  readonly BATCH: number
  readonly SLOT: number
  /**
   * The third element is 1 when datagrams can be held to be sent when due (held-send.c's thread
   * runs); `realtime` 1 asks for realtime priority for that thread.
   */
  open (address: string, port: number, inbox: ArrayBuffer, meta: Int32Array, onBatch: (count: number) => void, gatherMs: number, realtime: number): [UdpMuxHandle, number, number]
  send (handle: UdpMuxHandle, outbox: ArrayBuffer, meta: Int32Array, count: number): number
  /** Held datagrams to the address (as the C side reads it) and port dropped before they were due. */
  cancel (handle: UdpMuxHandle, address: number, port: number): number
  /** [queued, sent, dropped, cancelled, late, maxLateUs, pending, realtime] (held-send.h). */
  heldStats (handle: UdpMuxHandle): number[]
  /** CLOCK_MONOTONIC in milliseconds: the clock `send`'s due times are on. */
  clockMs (): number
  close (handle: UdpMuxHandle): void
}

/** An open socket on the C side; opaque here. */
export type UdpMuxHandle = { readonly __udpMux: unique symbol }

export type AddonLoad = { readonly addon: UdpMuxAddon } | { readonly addon: undefined, readonly why: string }

const BINARY = fileURLToPath(new URL('./build/udp-mux.node', import.meta.url))
let loaded: AddonLoad | undefined

/**
 * The built helper, or why there is none: not built (no compiler at install), built from another
 * version of udp-mux.c (a stale build would disagree with this file about the API), or not loadable.
 */
export function loadUdpMuxAddon (): AddonLoad {
  if (loaded !== undefined) return loaded
  loaded = load()
  return loaded
}

function load (): AddonLoad {
  const rebuild = 'run `npm run build:native` (needs a C compiler)'
  let builtFrom: string
  try {
    builtFrom = readFileSync(`${BINARY}.sha256`, 'utf8').trim()
  } catch {
    return { addon: undefined, why: `the batched UDP helper is not built: ${rebuild}` }
  }
  if (builtFrom !== sourcesHash()) {
    return { addon: undefined, why: `the batched UDP helper was built from another version of its C sources: ${rebuild}` }
  }
  try {
    return { addon: createRequire(import.meta.url)(BINARY) as UdpMuxAddon }
  } catch (err) {
    return { addon: undefined, why: `the batched UDP helper does not load (${(err as Error).message}): ${rebuild}` }
  }
}
