/**
 * Building blocks of the echo guard (echo.ts): a de-jittered stream position, a small
 * filterbank, and the ring of what we sent as 5 ms block powers per band.
 */

/** The guard works at 8 kHz: the telephone band is where line echo lives. */
export const ECHO_RATE = 8000
/** Envelope resolution: 5 ms blocks, four to a 20 ms frame. */
export const BLOCK = 40
/** Most blocks of a frame the guard looks at (60 ms: the longest ptime). */
export const MAX_BLOCKS = 12

/**
 * Bands the echo is compared in. A line's echo path is far from flat (the hybrid's and the
 * line cards' filters cut the low end hard, a handset colours it too), so the broadband ratio
 * of echo to what we sent swings by 15 dB and more between a vowel and a fricative; within a
 * band it stays within a few dB. And the caller's voice shows best in the low bands, where a
 * line's echo is weakest.
 */
export const BANDS: ReadonlyArray<readonly [number, number]> = [[150, 450], [450, 1000], [1000, 2000], [2000, 3600]]
// FilterBank.analyse is written out for four bands.
if (BANDS.length !== 4) throw new Error('echo guard: FilterBank.analyse expects four bands')

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

/** The filterbank's coefficients, the same for every filterbank: one read-only table, not one per call. */
const COEFFICIENTS = new Float64Array(BANDS.length * 5)
BANDS.forEach(([lo, hi], b) => {
  const w0 = 2 * Math.PI * Math.sqrt(lo * hi) / ECHO_RATE
  const bw = Math.log2(hi / lo)
  const alpha = Math.sin(w0) * Math.sinh(Math.LN2 / 2 * bw * w0 / Math.sin(w0))
  const a0 = 1 + alpha
  COEFFICIENTS.set([alpha / a0, 0, -alpha / a0, -2 * Math.cos(w0) / a0, (1 - alpha) / a0], b * 5)
})

/**
 * Band-pass biquads (RBJ cookbook, 0 dB peak), one per band: about 25 flops a sample. Writes
 * each 5 ms block's mean power per channel: channel 0 broadband, then one per band.
 */
export class FilterBank {
  static readonly channels = BANDS.length + 1
  /** Doubles of state a filterbank keeps: a caller may lay several out in one buffer. */
  static readonly stateLength = BANDS.length * 4
  readonly #coef = COEFFICIENTS
  readonly #state: Float64Array

  constructor (state = new Float64Array(FilterBank.stateLength)) {
    this.#state = state
  }

  /**
   * `x` holds `blocks` whole blocks; out[channel * blocks + j] = mean power of block j.
   * The four bands run in one pass over the samples (four independent recurrences the CPU can
   * overlap, the input read once); each band's arithmetic is what a loop per band did, term for
   * term and in the same order, so the powers are the same to the bit. The bands share the
   * input's history (x1, x2): the same samples go through every filter.
   */
  analyse (x: Float32Array, blocks: number, out: Float64Array): void {
    const c = this.#coef
    const s = this.#state
    const b0 = c[0] as number; const b2 = c[2] as number; const a1 = c[3] as number; const a2 = c[4] as number
    const c0 = c[5] as number; const c2 = c[7] as number; const d1 = c[8] as number; const d2 = c[9] as number
    const e0 = c[10] as number; const e2 = c[12] as number; const f1 = c[13] as number; const f2 = c[14] as number
    const g0 = c[15] as number; const g2 = c[17] as number; const h1 = c[18] as number; const h2 = c[19] as number
    let x1 = s[0] as number
    let x2 = s[1] as number
    let p1 = s[2] as number; let p2 = s[3] as number
    let q1 = s[6] as number; let q2 = s[7] as number
    let r1 = s[10] as number; let r2 = s[11] as number
    let t1 = s[14] as number; let t2 = s[15] as number
    for (let j = 0; j < blocks; j++) {
      let e = 0
      let ep = 0
      let eq = 0
      let er = 0
      let et = 0
      for (let i = j * BLOCK; i < (j + 1) * BLOCK; i++) {
        const v = x[i] as number
        e += v ** 2
        const yp = b0 * v + b2 * x2 - a1 * p1 - a2 * p2
        const yq = c0 * v + c2 * x2 - d1 * q1 - d2 * q2
        const yr = e0 * v + e2 * x2 - f1 * r1 - f2 * r2
        const yt = g0 * v + g2 * x2 - h1 * t1 - h2 * t2
        x2 = x1; x1 = v
        p2 = p1; p1 = yp; q2 = q1; q1 = yq; r2 = r1; r1 = yr; t2 = t1; t1 = yt
        ep += yp * yp
        eq += yq * yq
        er += yr * yr
        et += yt * yt
      }
      out[j] = e / BLOCK
      out[blocks + j] = ep / BLOCK
      out[2 * blocks + j] = eq / BLOCK
      out[3 * blocks + j] = er / BLOCK
      out[4 * blocks + j] = et / BLOCK
    }
    for (let b = 0; b < 4; b++) { s[b * 4] = x1; s[b * 4 + 1] = x2 }
    s[2] = p1; s[3] = p2; s[6] = q1; s[7] = q2; s[10] = r1; s[11] = r2; s[14] = t1; s[15] = t2
  }

  /** Forget the filters' memory (after a long silence nothing rings on). */
  reset (): void { this.#state.fill(0) }
}

/** Blocks (5 ms) beyond the capacity before an idle ring lets its array go: 1 s, ten times how far a position strays from the clock. */
const IDLE_MARGIN = 200
const NOTHING = new Float32Array(0)

/**
 * Block powers per channel of what we sent, by absolute block number, for the last `capacity`
 * blocks. Blocks never written (a gap) or gone read as silence: `silence`, one value per
 * channel (a silent block's log power is not 0).
 * Held as 32-bit floats: a block's power or log power needs no more than their 24 bits (the
 * guard compares them in ratios of dB, against line noise many orders above the rounding), and
 * the ring is half the size: 6.2 -> 3.1 KB while a call speaks.
 */
export class BlockRing {
  /** Made at the first write and let go by `idle` (a call that is not speaking needs none). */
  #power: Float32Array | undefined
  readonly #capacity: number
  readonly #channels: number
  readonly #silence: Float64Array
  /** One past the last block written. */
  #end: number | undefined

  constructor (capacity: number, channels: number, silence: ArrayLike<number> = new Float64Array(channels)) {
    this.#capacity = capacity
    this.#channels = channels
    // A Float64Array is kept as given (the guard's is a shared constant), anything else copied.
    this.#silence = silence instanceof Float64Array ? silence : Float64Array.from(silence)
  }

  get end (): number | undefined { return this.#end }

  /** Blocks [first, first + blocks) from `power` laid out as FilterBank.analyse writes it. */
  write (first: number, blocks: number, power: Float64Array): void {
    const ring = this.#power ?? this.#silent()
    if (this.#end !== undefined && first > this.#end) {
      for (let b = Math.max(this.#end, first - this.#capacity); b < first; b++) ring.set(this.#silence, this.#slot(b))
    }
    for (let j = 0; j < blocks; j++) {
      const at = this.#slot(first + j)
      for (let ch = 0; ch < this.#channels; ch++) ring[at + ch] = power[ch * blocks + j] as number
    }
    this.#end = Math.max(this.#end ?? first + blocks, first + blocks)
  }

  /**
   * Nothing but silence is written up to block `now` (the writer skips it: blocks past the end
   * read as silence). Once `now` is a capacity and `IDLE_MARGIN` past the end, the blocks held
   * can never be read again: a reader asks for blocks within the capacity of its own position,
   * and positions keep within ~0.1 s of the clock both ways (StreamPosition), while the next
   * write, a capacity past the end at least, overwrites every slot with silence before its own
   * blocks. So the ring lets its array go (6 KB for the echo guard, which a call holds for the
   * whole call and uses only while we speak) and reads as nothing written until the next write,
   * which makes a silent one: every read the same as with the array kept.
   */
  idle (now: number): void {
    if (this.#end !== undefined && now - this.#end >= this.#capacity + IDLE_MARGIN) {
      this.#power = undefined
      this.#end = undefined
    }
  }

  /** Whether the ring holds an array now (tests). */
  get held (): boolean { return this.#power !== undefined }

  #silent (): Float32Array {
    const ring = this.#power = new Float32Array(this.#capacity * this.#channels)
    for (let b = 0; b < this.#capacity; b++) ring.set(this.#silence, b * this.#channels)
    return ring
  }

  /** Where block `b`'s channels start in the ring, or -1 when it is not held. */
  at (b: number): number {
    if (this.#end === undefined || b >= this.#end || b < this.#end - this.#capacity) return -1
    return this.#slot(b)
  }

  /**
   * `into[offset + k] = at(top - k)` for k below `count`, walking the ring once instead of a modulo
   * per block (the guard asks for ~80 blocks per 5 ms block it judges).
   */
  slots (top: number, into: Int32Array, count = into.length, offset = 0): void {
    const end = this.#end
    let slot = this.#slot(top)
    const step = this.#channels
    const wrap = this.#capacity * step
    for (let k = 0; k < count; k++) {
      const b = top - k
      into[offset + k] = end === undefined || b >= end || b < end - this.#capacity ? -1 : slot
      slot = slot === 0 ? wrap - step : slot - step
    }
  }

  /** The blocks' channels, at the slots `at` and `slots` give (empty while nothing is held: they give none). */
  get power (): Float32Array { return this.#power ?? NOTHING }

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

/** Largest sample (16-bit) the float test `|x / 32768| > 1e-4` calls silent. */
const QUIET_SAMPLE = 3

export interface Scratch {
  /** Window positions (see EchoGuard #window), `windowFor(lags)` of them. */
  readonly slots: Int32Array
  /** Per band, per position: what we sent, and the most and the least of it in the three blocks from there. */
  readonly bands: Float64Array
  readonly hi: Float64Array
  readonly lo: Float64Array
  /** Per band, per position: what a floor there is measured against (echo-ratios.ts SUSTAIN, DIP). */
  readonly sustained: Float64Array
  /** Per position: our broadband power, and the mean log power of the three blocks from there. */
  readonly power1: Float64Array
  readonly logMean: Float64Array
  readonly bounds: Float64Array
  readonly samples: Float32Array
  readonly power: Float64Array
}

/** Positions in a frame's window: every delay's three blocks for each of up to MAX_BLOCKS blocks. */
export function windowFor (lags: number): number {
  return lags + 1 + MAX_BLOCKS
}

/** One scratch set per number of delays (one in practice: every call has the same options). */
const scratches = new Map<number, Scratch>()

export function scratchFor (lags: number): Scratch {
  let s = scratches.get(lags)
  if (s === undefined) {
    const w = windowFor(lags)
    s = {
      slots: new Int32Array(w),
      bands: new Float64Array(BANDS.length * w),
      hi: new Float64Array(BANDS.length * w),
      lo: new Float64Array(BANDS.length * w),
      sustained: new Float64Array(BANDS.length * w),
      power1: new Float64Array(w),
      logMean: new Float64Array(w),
      bounds: new Float64Array(BANDS.length),
      samples: new Float32Array(MAX_BLOCKS * BLOCK),
      power: new Float64Array(MAX_BLOCKS * (BANDS.length + 2)),
    }
    scratches.set(lags, s)
  }
  return s
}

/** Whole 5 ms blocks in a frame of `length` samples at `rate`, as toEchoRate and #blocks count them. */
export function blockCount (length: number, rate: number): number {
  const n = Math.min(rate === ECHO_RATE ? length : length >> 1, MAX_BLOCKS * BLOCK)
  return Math.min(MAX_BLOCKS, Math.floor(n / BLOCK))
}

/**
 * Whether every sample noteOutbound would analyse is silent by its float test. At 16 kHz the
 * decimator's [1 2 1]/4 of samples all within ±3 (the one carried from the last frame too)
 * stays within ±3; the carried sample is then moved on as toEchoRate would.
 */
export function quietSamples (samples: Int16Array, rate: number, state: { prev: number }): boolean {
  if (rate !== ECHO_RATE && (state.prev > QUIET_SAMPLE || state.prev < -QUIET_SAMPLE)) return false
  const n = Math.min(samples.length, rate === ECHO_RATE ? MAX_BLOCKS * BLOCK : 2 * MAX_BLOCKS * BLOCK)
  for (let i = 0; i < n; i++) {
    const v = samples[i] as number
    if (v > QUIET_SAMPLE || v < -QUIET_SAMPLE) return false
  }
  if (rate !== ECHO_RATE) skipDecimation(samples, state)
  return true
}

/** What toEchoRate leaves in the 16 kHz decimator's state, without converting. */
export function skipDecimation (samples: Int16Array, state: { prev: number }): void {
  const n = Math.min(samples.length >> 1, MAX_BLOCKS * BLOCK)
  if (n > 0) state.prev = samples[2 * n - 1] as number
}
