/**
 * Reused send buffers for one call's outgoing frames. `socket.send()` may be asynchronous: the
 * datagram can be read from the buffer some time after the call returns. So a buffer cannot
 * always be refilled for the next frame at once; a small ring of them, each marked busy while
 * its datagram may still be read, lets the pacer fill frame after frame without allocating.
 *
 * A slot is freed in one of two ways. After `sending` (a send that reaches libuv only later: an
 * unconnected socket's, which waits for an address lookup first), by that send's callback. After
 * `sentWithoutCallback` (every send on a connected socket, which reaches libuv within the call,
 * with or without a callback of its own), by the socket's send queue: Node first tries the send
 * synchronously (uv_udp_try_send in UDPWrap::Send) and queues a request only when the kernel would
 * not take the datagram at once; the queue's count drops when a queued send has completed. So once
 * `getSendQueueCount()` is 0, every datagram handed to the socket so far has been copied by the
 * kernel, and every slot held that way is free. No closure per slot then (a connected call makes
 * none; the send needs no callback: about 1 µs less per datagram, measured).
 * The ring asks only when it has no free slot left (once per ring's worth of audio frames), not
 * on every send. A ring whose every slot is still in flight (a socket that stopped draining)
 * grows by one slot rather than overwrite a datagram not yet sent; `grown` counts it.
 */

/**
 * Send buffers per call: a slot is busy until its datagram is known to be sent (at its callback,
 * or once the socket's send queue is seen empty), and a call sends 1-3 frames per turn (1 + lead
 * at a reply's start, 2 when catching up); a ring that runs out grows by one slot (`grown`).
 */
export const SEND_RING_SLOTS = 4

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** One datagram's bytes and, on a little-endian host, the same memory as samples. */
export interface SendSlot {
  readonly bytes: Buffer
  readonly samples: Int16Array
}

interface RingSlot extends SendSlot {
  busy: boolean
  /** Handed to libuv within the send call: free once the socket's send queue is seen empty. */
  held: boolean
  /** Made on the slot's first send with a callback (none on a connected socket), then reused. */
  done: ((err: Error | null) => void) | undefined
}

export class SendRing {
  readonly #frameBytes: number
  readonly #slots: RingSlot[] = []
  readonly #onDone: (err: Error | null) => void
  #next = 0
  #grown = 0
  #held = 0
  readonly #queueEmpty: () => boolean

  /** `queueEmpty`: the socket's send queue is empty (`getSendQueueCount() === 0`). */
  constructor (frameBytes: number, size: number, onDone: (err: Error | null) => void, queueEmpty: () => boolean = () => false) {
    this.#frameBytes = frameBytes
    this.#onDone = onDone
    this.#queueEmpty = queueEmpty
    // One allocation for the whole ring; each slot is a view on it.
    const memory = Buffer.alloc(frameBytes * size)
    for (let i = 0; i < size; i++) this.#slots.push(this.#slot(memory.subarray(i * frameBytes, (i + 1) * frameBytes)))
  }

  /** Slots added because every one was in flight. */
  get grown (): number { return this.#grown }

  get size (): number { return this.#slots.length }

  /** Slots handed to the socket and not yet known to be sent (see `drained`). */
  get held (): number { return this.#held }

  /** The next free slot, to fill and then send (`sending` or `sentWithoutCallback`). */
  take (): SendSlot {
    const free = this.#free()
    if (free !== undefined) return free
    // Every slot in flight: those sent without a callback are free if the socket's queue is empty.
    if (this.#held > 0 && this.#queueEmpty()) {
      this.drained()
      const again = this.#free()
      if (again !== undefined) return again
    }
    this.#grown++
    const slot = this.#slot(Buffer.alloc(this.#frameBytes))
    this.#slots.splice(this.#next, 0, slot)
    this.#next = (this.#next + 1) % this.#slots.length
    return slot
  }

  #free (): RingSlot | undefined {
    const n = this.#slots.length
    for (let i = 0; i < n; i++) {
      const slot = this.#slots[(this.#next + i) % n] as RingSlot
      if (!slot.busy) {
        this.#next = (this.#next + i + 1) % n
        return slot
      }
    }
    return undefined
  }

  /**
   * Mark `slot` in flight and return the callback to hand to `socket.send` (it frees the slot).
   * Call `release(slot)` instead if the send threw before it was queued.
   */
  sending (slot: SendSlot): (err: Error | null) => void {
    const s = slot as RingSlot
    s.busy = true
    s.done ??= (err) => {
      s.busy = false
      this.#onDone(err)
    }
    return s.done
  }

  release (slot: SendSlot): void { (slot as RingSlot).busy = false }

  /** `slot` was handed to libuv by `socket.send` (a connected socket): busy until the socket's queue is seen empty. */
  sentWithoutCallback (slot: SendSlot): void {
    const s = slot as RingSlot
    s.busy = true
    s.held = true
    this.#held++
  }

  /** The socket's send queue is empty: every datagram handed to it has been sent, so every held slot is free. */
  drained (): void {
    if (this.#held === 0) return
    for (const slot of this.#slots) {
      if (slot.held) {
        slot.held = false
        slot.busy = false
      }
    }
    this.#held = 0
  }

  #slot (bytes: Buffer): RingSlot {
    const slot: RingSlot = {
      bytes,
      samples: LITTLE_ENDIAN && bytes.byteOffset % 2 === 0
        ? new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)
        : new Int16Array(bytes.length / 2),
      busy: false,
      held: false,
      done: undefined,
    }
    return slot
  }
}
