/**
 * The memory for one wake-up's datagrams of the shared socket (udp-mux.ts): one allocation, each
 * datagram its own 8-byte-aligned stretch of it (the endpoint views a frame's samples in place,
 * frame.ts frameSamples, and zeroes a 0xFF gap frame in place: its own bytes only). An allocation
 * per datagram, as Node gives each message of a socket, cost ~1.5 µs each in malloc, free and V8's
 * ArrayBuffer bookkeeping against ~0.35 µs (docs/benchmarks.md "A wake-up's datagrams in one
 * allocation"). Every consumer copies what it keeps beyond the frame's dispatch (FrameHistory, the
 * utterance, Silero's window, the WAV writer, the recording's timeline); a consumer's bounded queue
 * (frame-consumers.ts) holding a frame holds its batch, at most a few KB, for as long.
 *
 * One object for the mux's life, `begin` at each wake-up, rather than one per wake-up: an object
 * made and dropped within one task is never alive when a full GC looks, and a class's instance
 * maps (its fields' transitions from the constructor's initial map) are held only by its live
 * instances. V8 keeps such a map that optimised code checks a couple of full GCs longer, but not
 * through a forced one (the load bench's memory samples): there they died, and V8 threw away the
 * code that checks them (`--trace-deopt`: "weak objects"), here the shared socket's receive with
 * everything inlined into it, and compiled it again (docs/benchmarks.md, "Code thrown away at a
 * full GC: what dies").
 */
export class BatchMemory {
  #memory: Buffer = EMPTY
  #used = 0

  /** Memory for this wake-up's `count` datagrams, as `meta` (udp-mux.c's inbox metadata) says, each cut at `slot` bytes. */
  begin (meta: Int32Array, count: number, slot: number): void {
    let bytes = 0
    for (let i = 0; i < count; i++) bytes += align8(Math.min(meta[i * IN_META + 2] as number, slot))
    // Fresh memory each time: the last wake-up's frames may still be held by their consumers.
    this.#memory = Buffer.allocUnsafeSlow(bytes)
    this.#used = 0
  }

  take (length: number): Buffer {
    const msg = this.#memory.subarray(this.#used, this.#used + length)
    this.#used += align8(length)
    return msg
  }
}

/** Per received datagram in udp-mux.c's inbox metadata: source address, port, length, age in µs. */
export const IN_META = 4

const EMPTY = Buffer.alloc(0)

function align8 (n: number): number {
  return (n + 7) & ~7
}
