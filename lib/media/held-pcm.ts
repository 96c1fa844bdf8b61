import { encodeExact, exactLaw, type G711Law } from './g711.ts'
import { PcmAccumulator } from './pcm-accumulator.ts'

/** Codes per block: 500 ms at 8 kHz, 25 frames of 20 ms (a frame is never split over two blocks). */
const CODE_BLOCK = 4000

/**
 * A caller's utterance (16-bit PCM), held for as long as it is being recognised, at a byte per
 * sample while that loses nothing: while every sample is one of G.711's values (a PCMA or PCMU
 * line, which FreeSWITCH decodes to L16 for unicast; g711.ts), each is kept as its code. The
 * first frame decides the law. A sample that is not one of its values (a wideband line, a
 * 0xFF frame of a pause in the caller's RTP, audio FreeSWITCH resampled) turns the whole of it
 * into 16-bit samples for good (PcmAccumulator), the codes held so far decoded: what is read back
 * is always exactly what was appended.
 *
 * Halves what a talking call holds while the caller speaks: a 3.7 s utterance at 8 kHz is 30 KB
 * instead of 59 (docs/benchmarks.md, "Utterances at a byte per sample").
 *
 * `compand: false`: 16-bit samples from the start, whose `append` views a recogniser may keep
 * (one that streams and replays frames).
 */
export class HeldPcm {
  #law: G711Law | undefined
  /** Full code blocks, each cut to the codes it holds, and the block being filled. */
  #full: Buffer[] = []
  #block: Buffer | undefined
  #used = 0
  #samples = 0
  /** Set once the audio is held as 16-bit samples (from the start, or since a sample that needs it). */
  #linear: PcmAccumulator | undefined

  constructor (options: { readonly compand: boolean }) {
    if (!options.compand) this.#linear = new PcmAccumulator()
  }

  /** Bytes of 16-bit PCM held. */
  get length (): number {
    return this.#linear?.length ?? this.#samples * 2
  }

  /** Bytes of blocks allocated for codes (tests). */
  get allocatedBytes (): number {
    return this.#full.reduce((n, b) => n + b.buffer.byteLength, this.#block?.buffer.byteLength ?? 0)
  }

  /** The law whose codes hold the audio; undefined once it is held as 16-bit samples. */
  get law (): G711Law['name'] | undefined {
    return this.#linear === undefined ? this.#law?.name : undefined
  }

  /**
   * Copies `samples` in. Held as 16-bit samples, returns a view of the copy that is never written
   * again; held as codes, undefined (there is no 16-bit copy to view).
   */
  append (samples: Int16Array): Buffer | undefined {
    if (this.#linear === undefined && this.#appendCodes(samples)) return undefined
    const linear = this.#linear ?? this.#toLinear()
    return linear.append(new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength))
  }

  /** The first `maxBytes` of what is held (all of it by default), as 16-bit PCM: a buffer of its own, or a view never written again. */
  pcm (maxBytes = Number.POSITIVE_INFINITY): Buffer {
    const linear = this.#linear
    if (linear !== undefined) {
      const whole = linear.view()
      return whole.length > maxBytes ? whole.subarray(0, maxBytes - (maxBytes % 2)) : whole
    }
    return this.#decode(Math.min(this.#samples, Math.floor(maxBytes / 2)))
  }

  /** Everything held, in order, as 16-bit PCM pieces of at most `chunkBytes` (even). */
  * chunks (chunkBytes: number): Generator<Buffer> {
    if (this.#linear !== undefined) {
      yield * this.#linear.chunks(chunkBytes)
      return
    }
    const whole = this.#decode(this.#samples)
    const size = Math.max(2, chunkBytes - (chunkBytes % 2))
    for (let at = 0; at < whole.length; at += size) yield whole.subarray(at, at + size)
  }

  /** Appends the samples as codes when every one is a value of the law; false (nothing appended) if not. */
  #appendCodes (samples: Int16Array): boolean {
    const n = samples.length
    if (n === 0) return true
    // The first frame picks the law it is exact in.
    const law = this.#law ??= exactLaw(samples)
    if (law === undefined) return false
    let block = this.#block
    if (block === undefined || this.#used + n > block.length) {
      if (block !== undefined && this.#used > 0) this.#full.push(block.subarray(0, this.#used))
      block = this.#block = Buffer.alloc(Math.max(n, CODE_BLOCK))
      this.#used = 0
    }
    // Checked and coded in one pass; a frame that fails leaves its codes past #used, unread.
    if (!encodeExact(law, samples, block, this.#used)) return false
    this.#used += n
    this.#samples += n
    return true
  }

  /** The codes held so far become 16-bit samples, for good. */
  #toLinear (): PcmAccumulator {
    const linear = this.#linear = new PcmAccumulator()
    if (this.#samples > 0) linear.append(this.#decode(this.#samples))
    this.#full = []
    this.#block = undefined
    this.#used = 0
    this.#samples = 0
    return linear
  }

  /** The first `count` samples held as codes, decoded into a buffer of their own. */
  #decode (count: number): Buffer {
    const out = Buffer.alloc(count * 2)
    const pcm = new Int16Array(out.buffer, out.byteOffset, count)
    const values = (this.#law as G711Law).values
    let at = 0
    const last = this.#block?.subarray(0, this.#used)
    for (const part of last === undefined ? this.#full : [...this.#full, last]) {
      for (let i = 0; i < part.length && at < count; i++, at++) pcm[at] = values[part[i] as number] as number
      if (at >= count) break
    }
    return out
  }
}
