/**
 * Reused send buffers for one call's outgoing frames. `socket.send()` is asynchronous: the
 * datagram is read from the buffer some time after the call returns, until its callback runs.
 * So a buffer cannot be refilled for the next frame at once; a small ring of them, each marked
 * busy until its own callback, lets the pacer fill frame after frame without allocating. A ring
 * whose every slot is still in flight (a socket that stopped draining) grows by one slot rather
 * than overwrite a datagram not yet sent; `grown` counts it.
 */

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** One datagram's bytes and, on a little-endian host, the same memory as samples. */
export interface SendSlot {
  readonly bytes: Buffer
  readonly samples: Int16Array
}

interface RingSlot extends SendSlot {
  busy: boolean
  /** Bound once per slot: no closure is made per send. */
  readonly done: (err: Error | null) => void
}

export class SendRing {
  readonly #frameBytes: number
  readonly #slots: RingSlot[] = []
  readonly #onDone: (err: Error | null) => void
  #next = 0
  #grown = 0

  constructor (frameBytes: number, size: number, onDone: (err: Error | null) => void) {
    this.#frameBytes = frameBytes
    this.#onDone = onDone
    // One allocation for the whole ring; each slot is a view on it.
    const memory = Buffer.alloc(frameBytes * size)
    for (let i = 0; i < size; i++) this.#slots.push(this.#slot(memory.subarray(i * frameBytes, (i + 1) * frameBytes)))
  }

  /** Slots added because every one was in flight. */
  get grown (): number { return this.#grown }

  get size (): number { return this.#slots.length }

  /** The next free slot, to fill and then `send` through `sendWith`. */
  take (): SendSlot {
    const n = this.#slots.length
    for (let i = 0; i < n; i++) {
      const slot = this.#slots[(this.#next + i) % n] as RingSlot
      if (!slot.busy) {
        this.#next = (this.#next + i + 1) % n
        return slot
      }
    }
    this.#grown++
    const slot = this.#slot(Buffer.alloc(this.#frameBytes))
    this.#slots.splice(this.#next, 0, slot)
    this.#next = (this.#next + 1) % this.#slots.length
    return slot
  }

  /**
   * Mark `slot` in flight and return the callback to hand to `socket.send` (it frees the slot).
   * Call `release(slot)` instead if the send threw before it was queued.
   */
  sending (slot: SendSlot): (err: Error | null) => void {
    const s = slot as RingSlot
    s.busy = true
    return s.done
  }

  release (slot: SendSlot): void { (slot as RingSlot).busy = false }

  #slot (bytes: Buffer): RingSlot {
    const slot: RingSlot = {
      bytes,
      samples: LITTLE_ENDIAN && bytes.byteOffset % 2 === 0
        ? new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2)
        : new Int16Array(bytes.length / 2),
      busy: false,
      done: (err) => {
        slot.busy = false
        this.#onDone(err)
      },
    }
    return slot
  }
}
