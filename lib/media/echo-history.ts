/**
 * Building blocks of the echo guard (echo.ts): a de-jittered stream position, a small
 * filterbank, and the ring of what we sent as 5 ms block powers per band.
 */

/** The guard works at 8 kHz: the telephone band is where line echo lives. */
export const ECHO_RATE = 8000
/** Envelope resolution: 5 ms blocks, four to a 20 ms frame. */
export const BLOCK = 40

/**
 * Bands the echo is compared in. A line's echo path is far from flat (the hybrid's and the
 * line cards' filters cut the low end hard, a handset colours it too), so the broadband ratio
 * of echo to what we sent swings by 15 dB and more between a vowel and a fricative; within a
 * band it stays within a few dB. And the caller's voice shows best in the low bands, where a
 * line's echo is weakest.
 */
export const BANDS: ReadonlyArray<readonly [number, number]> = [[150, 450], [450, 1000], [1000, 2000], [2000, 3600]]

/**
 * Turns frame timestamps into a continuous position on the 5 ms block grid. Frames of one
 * stream are back to back: timer and network jitter move the timestamps, not the audio. A frame
 * within `aheadMs` before the expected position (sent ahead of real time, a burst from the
 * network) or `lateMs` after it continues the stream; anything else (nothing was sent for a
 * while, the peer's queue ran dry) re-anchors it at the timestamp.
 */
export class StreamPosition {
  #next: number | undefined
  readonly #ahead: number
  readonly #late: number

  constructor (aheadMs = 100, lateMs = 15) {
    this.#ahead = aheadMs * ECHO_RATE / 1000
    this.#late = lateMs * ECHO_RATE / 1000
  }

  /** Position (8 kHz samples, a multiple of BLOCK) of a frame of `length` samples stamped `atMs`. */
  place (atMs: number, length: number): number {
    const ideal = atMs * ECHO_RATE / 1000
    let pos = this.#next
    if (pos === undefined || ideal - pos > this.#late || pos - ideal > this.#ahead) pos = Math.round(ideal / BLOCK) * BLOCK
    this.#next = pos + length
    return pos
  }
}

/**
 * Band-pass biquads (RBJ cookbook, 0 dB peak), one per band: about 25 flops a sample. Writes
 * each 5 ms block's mean power per channel: channel 0 broadband, then one per band.
 */
export class FilterBank {
  static readonly channels = BANDS.length + 1
  readonly #coef: Float64Array
  readonly #state = new Float64Array(BANDS.length * 4)

  constructor () {
    this.#coef = new Float64Array(BANDS.length * 5)
    BANDS.forEach(([lo, hi], b) => {
      const w0 = 2 * Math.PI * Math.sqrt(lo * hi) / ECHO_RATE
      const bw = Math.log2(hi / lo)
      const alpha = Math.sin(w0) * Math.sinh(Math.LN2 / 2 * bw * w0 / Math.sin(w0))
      const a0 = 1 + alpha
      this.#coef.set([alpha / a0, 0, -alpha / a0, -2 * Math.cos(w0) / a0, (1 - alpha) / a0], b * 5)
    })
  }

  /** `x` holds `blocks` whole blocks; out[channel * blocks + j] = mean power of block j. */
  analyse (x: Float32Array, blocks: number, out: Float64Array): void {
    for (let j = 0; j < blocks; j++) {
      let e = 0
      for (let i = j * BLOCK; i < (j + 1) * BLOCK; i++) e += (x[i] as number) ** 2
      out[j] = e / BLOCK
    }
    const c = this.#coef
    const s = this.#state
    for (let b = 0; b < BANDS.length; b++) {
      const b0 = c[b * 5] as number
      const b2 = c[b * 5 + 2] as number
      const a1 = c[b * 5 + 3] as number
      const a2 = c[b * 5 + 4] as number
      let x1 = s[b * 4] as number
      let x2 = s[b * 4 + 1] as number
      let y1 = s[b * 4 + 2] as number
      let y2 = s[b * 4 + 3] as number
      for (let j = 0; j < blocks; j++) {
        let e = 0
        for (let i = j * BLOCK; i < (j + 1) * BLOCK; i++) {
          const v = x[i] as number
          const y = b0 * v + b2 * x2 - a1 * y1 - a2 * y2
          x2 = x1; x1 = v; y2 = y1; y1 = y
          e += y * y
        }
        out[(b + 1) * blocks + j] = e / BLOCK
      }
      s[b * 4] = x1; s[b * 4 + 1] = x2; s[b * 4 + 2] = y1; s[b * 4 + 3] = y2
    }
  }

  /** Forget the filters' memory (after a long silence nothing rings on). */
  reset (): void { this.#state.fill(0) }
}

/**
 * Block powers per channel of what we sent, by absolute block number, for the last `capacity`
 * blocks. Blocks never written (a gap) or gone read as silence.
 */
export class BlockRing {
  readonly #power: Float64Array
  readonly #capacity: number
  readonly #channels: number
  /** One past the last block written. */
  #end: number | undefined

  constructor (capacity: number, channels: number) {
    this.#capacity = capacity
    this.#channels = channels
    this.#power = new Float64Array(capacity * channels)
  }

  get end (): number | undefined { return this.#end }

  /** Blocks [first, first + blocks) from `power` laid out as FilterBank.analyse writes it. */
  write (first: number, blocks: number, power: Float64Array): void {
    if (this.#end !== undefined && first > this.#end) {
      for (let b = Math.max(this.#end, first - this.#capacity); b < first; b++) this.#power.fill(0, this.#slot(b), this.#slot(b) + this.#channels)
    }
    for (let j = 0; j < blocks; j++) {
      const at = this.#slot(first + j)
      for (let ch = 0; ch < this.#channels; ch++) this.#power[at + ch] = power[ch * blocks + j] as number
    }
    this.#end = Math.max(this.#end ?? first + blocks, first + blocks)
  }

  /** Where block `b`'s channels start in the ring, or -1 when it is not held. */
  at (b: number): number {
    if (this.#end === undefined || b >= this.#end || b < this.#end - this.#capacity) return -1
    return this.#slot(b)
  }

  get power (): Float64Array { return this.#power }

  #slot (b: number): number {
    return (((b % this.#capacity) + this.#capacity) % this.#capacity) * this.#channels
  }
}

/**
 * 8 or 16 kHz 16-bit samples to 8 kHz floats in [-1, 1). 16 kHz goes through a [1 2 1]/4
 * low-pass first, as the VAD's features do: crude, but enough for the telephone band.
 */
export function toEchoRate (samples: Int16Array, rate: number, out: Float32Array, state: { prev: number }): number {
  if (rate === ECHO_RATE) {
    const n = Math.min(samples.length, out.length)
    for (let i = 0; i < n; i++) out[i] = (samples[i] as number) / 32768
    return n
  }
  const n = Math.min(samples.length >> 1, out.length)
  let prev = state.prev
  for (let i = 0; i < n; i++) {
    const a = samples[2 * i] as number
    const b = samples[2 * i + 1] as number
    out[i] = (prev + 2 * a + b) / 4 / 32768
    prev = b
  }
  state.prev = prev
  return n
}
