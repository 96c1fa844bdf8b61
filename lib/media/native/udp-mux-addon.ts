import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/** The C side of lib/media/stream/udp-mux.ts (udp-mux.c says what each call does). */
export interface UdpMuxAddon {
  readonly BATCH: number
  readonly SLOT: number
  open (address: string, port: number, inbox: ArrayBuffer, meta: Int32Array, onBatch: (count: number) => void, gatherMs: number): [UdpMuxHandle, number]
  send (handle: UdpMuxHandle, outbox: ArrayBuffer, meta: Int32Array, count: number): number
  close (handle: UdpMuxHandle): void
}

/** An open socket on the C side; opaque here. */
export type UdpMuxHandle = { readonly __udpMux: unique symbol }

export type AddonLoad = { readonly addon: UdpMuxAddon } | { readonly addon: undefined, readonly why: string }

const BINARY = fileURLToPath(new URL('./build/udp-mux.node', import.meta.url))
const SOURCE = fileURLToPath(new URL('./udp-mux.c', import.meta.url))
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
  if (builtFrom !== createHash('sha256').update(readFileSync(SOURCE)).digest('hex')) {
    return { addon: undefined, why: `the batched UDP helper was built from another version of udp-mux.c: ${rebuild}` }
  }
  try {
    return { addon: createRequire(import.meta.url)(BINARY) as UdpMuxAddon }
  } catch (err) {
    return { addon: undefined, why: `the batched UDP helper does not load (${(err as Error).message}): ${rebuild}` }
  }
}
