import { FrameBuffer, type InboundFrame } from './inbound.ts'

/**
 * A call's async consumers of inbound frames (MediaEndpoint.frames): each a bounded FrameBuffer
 * that drops the oldest frames when its reader falls behind, so a slow consumer never holds the
 * socket's event handler up. Frames dropped by buffers already gone are kept in the count.
 */
export class FrameConsumers {
  readonly #maxBuffered: number
  readonly #buffers = new Set<FrameBuffer>()
  #droppedByEnded = 0

  constructor (maxBuffered: number) {
    this.#maxBuffered = maxBuffered
  }

  /** Frames lost because a consumer fell behind, over every consumer so far. */
  get dropped (): number {
    let n = this.#droppedByEnded
    for (const b of this.#buffers) n += b.dropped
    return n
  }

  /** A new consumer; already ended when `closed` or `signal` has aborted. */
  open (closed: boolean, signal: AbortSignal | undefined): AsyncIterable<InboundFrame> {
    const onAbort = (): void => { buffer.end() }
    const buffer: FrameBuffer = new FrameBuffer(this.#maxBuffered, () => {
      this.#buffers.delete(buffer)
      this.#droppedByEnded += buffer.dropped
      signal?.removeEventListener('abort', onAbort)
    })
    if (closed || signal?.aborted === true) {
      buffer.end()
      return buffer
    }
    this.#buffers.add(buffer)
    signal?.addEventListener('abort', onAbort, { once: true })
    return buffer
  }

  push (frame: InboundFrame): void {
    for (const buffer of this.#buffers) buffer.push(frame)
  }

  endAll (): void {
    for (const buffer of [...this.#buffers]) buffer.end()
  }
}
