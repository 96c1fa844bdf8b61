/**
 * Audio kept for as long as an utterance lasts (a second and more), in a few large blocks.
 *
 * Kept as one object per 20 ms frame instead (the frame, its samples view and, under it, the
 * datagram Node received), every frame of every talking caller outlived two scavenges and was
 * promoted: at 100 AI calls about 6 MB/s reached the old generation and died there, and the full
 * GCs that cleared it held the event loop for 9-41 ms every 1.2-1.5 s (docs/benchmarks.md, "What
 * holds the event loop at 100-300 AI calls"). Copied in here, the frames die young.
 *
 * Blocks of a fixed size, not one buffer doubled as it fills: doubled, a 4.2 s utterance at 8 kHz
 * (67 KB) sat in a 128 KB buffer, and a talking call held two of them while the caller spoke
 * (the utterance's, for a replay, and a whole-utterance recogniser's copy, which now keeps the
 * blocks' views instead: buffered-session.ts): about 49 KB per call on average at 40-80 AI calls
 * (docs/benchmarks.md, "Memory per call (tenth session, helper 10b)"). Nothing is copied to grow.
 */
// Zero-filled (Buffer.alloc): a view's .buffer reaches past what was appended, and code that
// reads an ArrayBuffer whole must find zeros there, never old heap memory.
export class PcmAccumulator {
  readonly #blockBytes: number
  /** Every block but the last, each cut to the bytes it holds. */
  #full: Buffer[] = []
  /** The block being filled, and how much of it is. */
  #block: Buffer | undefined
  #used = 0
  #length = 0

  /** `blockBytes`: 8000 is 500 ms of 16-bit audio at 8 kHz, at most that much allocated and not yet written. */
  constructor (blockBytes = 8000) {
    this.#blockBytes = Math.max(2, Math.floor(blockBytes))
  }

  /** Bytes held. */
  get length (): number {
    return this.#length
  }

  /** Copies `chunk` in and returns a view of the copy (valid for good: bytes held are never rewritten). */
  append (chunk: Uint8Array): Buffer {
    const n = chunk.byteLength
    let block = this.#block
    // A chunk is never split over two blocks, so that its copy is one view; the rest of a block
    // it does not fit in stays unused (none with 20 ms frames: 8000 bytes is 25 of them at 8 kHz).
    if (block === undefined || this.#used + n > block.length) {
      if (block !== undefined && this.#used > 0) this.#full.push(block.subarray(0, this.#used))
      block = this.#block = Buffer.alloc(Math.max(n, this.#blockBytes))
      this.#used = 0
    }
    block.set(chunk, this.#used)
    const view = block.subarray(this.#used, this.#used + n)
    this.#used += n
    this.#length += n
    return view
  }

  /**
   * Everything held, in order, in pieces of `chunkBytes` (the last one shorter; `chunkBytes` even
   * for 16-bit audio keeps samples whole): views, or a copy for a piece that spans two blocks.
   */
  * chunks (chunkBytes: number): Generator<Buffer> {
    const size = Math.max(1, Math.floor(chunkBytes))
    const parts = this.#parts()
    // Read position: part p, byte `at` of it.
    let p = 0
    let at = 0
    for (let left = this.#length; left > 0;) {
      const want = Math.min(size, left)
      left -= want
      while ((parts[p] as Buffer).length === at) { p++; at = 0 }
      const part = parts[p] as Buffer
      if (part.length - at >= want) {
        yield part.subarray(at, at + want)
        at += want
        continue
      }
      const piece = Buffer.alloc(want)
      for (let got = 0; got < want;) {
        while ((parts[p] as Buffer).length === at) { p++; at = 0 }
        const from = parts[p] as Buffer
        const n = Math.min(want - got, from.length - at)
        piece.set(from.subarray(at, at + n), got)
        got += n
        at += n
      }
      yield piece
    }
  }

  /**
   * Everything held, one view: it stays valid after later appends. Held in more than one block,
   * the blocks are joined into one (a copy) that then replaces them.
   */
  view (): Buffer {
    const parts = this.#parts()
    if (parts.length === 1) return parts[0] as Buffer
    const whole = Buffer.alloc(this.#length)
    let at = 0
    for (const part of parts) { whole.set(part, at); at += part.length }
    this.#full = []
    this.#block = whole
    this.#used = whole.length
    return whole
  }

  #parts (): Buffer[] {
    const last = this.#block?.subarray(0, this.#used)
    return last === undefined || last.length === 0 ? [...this.#full] : [...this.#full, last]
  }
}
