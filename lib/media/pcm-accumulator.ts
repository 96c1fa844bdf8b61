/**
 * Audio kept for as long as an utterance lasts (a second and more), in one growing buffer.
 *
 * Kept as one object per 20 ms frame instead (the frame, its samples view and, under it, the
 * datagram Node received), every frame of every talking caller outlived two scavenges and was
 * promoted: at 100 AI calls about 6 MB/s reached the old generation and died there, and the full
 * GCs that cleared it held the event loop for 9-41 ms every 1.2-1.5 s (docs/benchmarks.md, "What
 * holds the event loop at 100-300 AI calls"). Copied in here, the frames die young.
 */
// Zero-filled (Buffer.alloc): a view's .buffer reaches past what was appended, and code that
// reads an ArrayBuffer whole must find zeros there, never old heap memory.
export class PcmAccumulator {
  #bytes: Buffer
  #length = 0

  constructor (initialBytes = 16_000) {
    this.#bytes = Buffer.alloc(Math.max(2, initialBytes))
  }

  /** Bytes held. */
  get length (): number {
    return this.#length
  }

  /** Copies `chunk` in (growing the buffer by doubling) and returns a view of the copy. */
  append (chunk: Uint8Array): Buffer {
    const need = this.#length + chunk.byteLength
    if (need > this.#bytes.length) {
      // The old buffer is not written again: views handed out before stay valid.
      const grown = Buffer.alloc(Math.max(need, this.#bytes.length * 2))
      this.#bytes.copy(grown, 0, 0, this.#length)
      this.#bytes = grown
    }
    this.#bytes.set(chunk, this.#length)
    const view = this.#bytes.subarray(this.#length, need)
    this.#length = need
    return view
  }

  /** Everything held, as views of at most `chunkBytes` each (whole chunks: `chunkBytes` even for 16-bit audio). */
  * chunks (chunkBytes: number): Generator<Buffer> {
    const size = Math.max(1, Math.floor(chunkBytes))
    for (let at = 0; at < this.#length; at += size) yield this.#bytes.subarray(at, Math.min(this.#length, at + size))
  }

  /** Everything held, one view: it stays valid after later appends (bytes already held are never rewritten). */
  view (): Buffer {
    return this.#bytes.subarray(0, this.#length)
  }
}
