import { BANDS } from './echo-history.ts'

/**
 * What comes back on the caller's line over what we sent, for the echo guard (echo.ts): per band
 * and candidate delay, a floor (the echo return loss: what comes back is at least the echo) and a
 * ceiling learnt from blocks already explained as echo, each the extreme of two windows of
 * WINDOW updates (minimum statistics, so they follow a line that changes). From them, the most
 * power our output can explain in each band of a caller's block.
 */

/** Block power that counts as sound we sent (-60 dBFS): quieter output cannot echo audibly. */
export const ACTIVE = 1e-6
/** Candidate delays every LAG_STEP blocks (10 ms); the max-of-three covers the blocks between. */
export const LAG_STEP = 2
/** Delays around the echo's that its bound covers (the correlation peak is broad). */
export const NEAR = 3 * LAG_STEP
/**
 * A floor is updated from the least we sent in the three blocks around its delay, or DIP times
 * the least over SUSTAIN more blocks each side (10 ms: seven blocks), whichever is less. An
 * echo's delay moves between prompts (on FreeSWITCH with the write timer's phase, 0-22 ms), and a
 * delay 10-20 ms off the echo's meets silence at every onset and end of our speech: with the
 * three alone one such block dragged the floor there to nothing, and once the echo moved there it
 * went unexplained for the second the windows took to forget it (the agent paused on its own
 * echo, test/media-stream/echo-moving.spec.ts). Now what comes back is at least the echo's loss
 * times what we sent within ±15 ms of the delay: a floor can fall at most DIP below the loss of an
 * echo that moved that far, and the ceiling's spread over it (20 dB) still covers the echo. The
 * least over the seven alone kept every floor higher than it should be and caught callers talking
 * over us later (bench/echo.ts: detection p90 +60-300 ms); with DIP as well, no later than before.
 * The delays within SUSTAIN of either end keep the three.
 */
export const SUSTAIN = 2
export const DIP = 10
/** Updates per window of the floor and ceiling statistics. */
const WINDOW = 128
/** Ceiling cap over the floor on a line with no echo found. */
const CLEAR_SPREAD = 10 ** (12 / 10)
const B = BANDS.length

export interface EchoRatiosOptions {
  /** Candidate delays. */
  readonly lags: number
  /** Positions per band in `hi` and `lo`. */
  readonly stride: number
  /** The most and the least we sent around each window position, per band, and what a floor is measured against there (SUSTAIN, DIP): the guard fills them. */
  readonly hi: Float64Array
  readonly lo: Float64Array
  readonly sustained: Float64Array
  /** Where bound() writes the explained power per band. */
  readonly bounds: Float64Array
  /** The worst echo return loss a line should have, as a power ratio. */
  readonly cap: number
  /** How far a ceiling may stand over its floor, as a power ratio. */
  readonly spread: number
}

export class EchoRatios {
  // Initialised to a number so that V8 knows these fields hold numbers. Declared bare they are
  // defined as undefined first (ES2022 class fields) and V8 then types their loads as anything:
  // bound()'s `cur`, which merges a floor (a double) with `cap`, became a tagged value, and every
  // floor and ratio it held was boxed, two heap numbers per delay looked at: ~2.7 KB of garbage
  // per talking frame, 13 MB/s at 100 calls, which a sampling heap profile put under bound().
  readonly cap: number = 0
  readonly #spread: number = 0
  readonly #lags: number
  /** Evaluated delays per band (every LAG_STEP-th): the cells' row length. */
  readonly #cells: number
  readonly #stride: number
  readonly #hi: Float64Array
  readonly #lo: Float64Array
  readonly #sustained: Float64Array
  readonly #bounds: Float64Array
  // Per band and evaluated delay (band * cells + k / LAG_STEP): floor and ceiling, two windows
  // each. Only every LAG_STEP-th delay is ever evaluated (the max-of-three around it covers the
  // one between), so only those have cells: half the memory of a cell per delay, the same values.
  readonly #floorCur: Float32Array
  readonly #floorPrev: Float32Array
  readonly #floorCount: Uint8Array
  readonly #ceilCur: Float32Array
  readonly #ceilPrev: Float32Array
  readonly #ceilCount: Uint8Array
  /** Per band and evaluated delay (as the cells): a clear line's gain, as bound() takes it. */
  readonly #clearGain: Float32Array

  constructor (o: EchoRatiosOptions) {
    this.cap = o.cap
    this.#spread = o.spread
    this.#lags = o.lags
    this.#cells = Math.ceil(o.lags / LAG_STEP)
    this.#stride = o.stride
    this.#hi = o.hi
    this.#lo = o.lo
    this.#sustained = o.sustained
    this.#bounds = o.bounds
    // One buffer for the five arrays of ratios and, after them, the two of counts: a typed array
    // each, but one backing store and one ArrayBuffer (each has its own bookkeeping, in the heap
    // and outside it). The ratios are 32-bit floats: power ratios, compared and multiplied into
    // bounds judged in dB, need no more than 24 bits, and a talking call holds 3.2 KB instead of
    // 6.4 KB (load-heap --talk). The arithmetic stays in doubles; only what is kept is rounded.
    const cells = B * this.#cells
    const buffer = new ArrayBuffer(5 * cells * Float32Array.BYTES_PER_ELEMENT + 2 * cells)
    const ratios = new Float32Array(buffer, 0, 5 * cells)
    this.#floorCur = ratios.subarray(0, cells).fill(o.cap)
    this.#floorPrev = ratios.subarray(cells, 2 * cells).fill(o.cap)
    this.#ceilCur = ratios.subarray(2 * cells, 3 * cells).fill(o.cap)
    this.#ceilPrev = ratios.subarray(3 * cells, 4 * cells).fill(o.cap)
    this.#clearGain = ratios.subarray(4 * cells)
    const counts = new Uint8Array(buffer, ratios.byteLength, 2 * cells)
    this.#floorCount = counts.subarray(0, cells)
    this.#ceilCount = counts.subarray(cells)
  }

  /** The echo moved to delay `d` (or was found): its ceilings start from the worst case again. */
  resetCeilings (d: number): void {
    for (let c = 0; c < B; c++) {
      // Only the evaluated delays have cells (the others were never read).
      for (let k = firstEvaluated(Math.max(0, d - NEAR)); k <= Math.min(this.#lags - 1, d + NEAR); k += LAG_STEP) {
        const i = c * this.#cells + k / LAG_STEP
        this.#ceilCur[i] = this.cap
        this.#ceilPrev[i] = this.cap
        this.#ceilCount[i] = 0
      }
    }
  }

  /**
   * The caller's block `j` (band powers in `e`): update the floors, and set `bounds` to the most
   * power our output can explain in each band: at each delay that counts, the gain learnt there
   * times the most of what we sent in the three blocks around it (the guard's window position
   * `at` + k for delay index k). Once the echo's delay `d` is known, the others only keep their
   * floors up to date, on the blocks the guard marks `far`. `clear`: the line has no echo found.
   */
  bound (e: Float64Array, blocks: number, j: number, at: number, d: number, clear: boolean, far: boolean): void {
    // The loop below runs for every band, delay and 5 ms block while we talk: the arrays and
    // settings are read into locals, and the floor's two windows are updated and read in place.
    const his = this.#hi
    const los = this.#lo
    const sus = this.#sustained
    const floorCur = this.#floorCur
    const floorPrev = this.#floorPrev
    const floorCount = this.#floorCount
    const ceilCur = this.#ceilCur
    const ceilPrev = this.#ceilPrev
    const cap = this.cap
    const spread = this.#spread
    const lags = this.#lags
    const cells = this.#cells
    const known = d >= 0
    // Before the echo is found: the worst case, capped over the floor (less on a clear line).
    const unknownSpread = clear ? CLEAR_SPREAD : spread
    const from = !known || far ? 0 : Math.max(0, d - NEAR)
    const to = !known || far ? lags - 1 : Math.min(lags - 1, d + NEAR)
    const first = from - (from % LAG_STEP)
    for (let c = 0; c < B; c++) {
      const v = e[(c + 1) * blocks + j] as number
      const row = c * this.#stride + at
      let bound = 0
      // i: delay k's cell, one step along the row per evaluated delay.
      for (let k = first, i = c * cells + first / LAG_STEP; k <= to; k += LAG_STEP, i++) {
        const hi = his[row + k] as number
        if (hi < ACTIVE) continue
        const lo = (k >= SUSTAIN && k < lags - SUSTAIN ? sus[row + k] : los[row + k]) as number
        // The least we sent around the delay bounds the echo's ratio from below, the most of three the echo from above.
        let cur = floorCur[i] as number
        if (lo >= ACTIVE) {
          const r = v / lo
          if (r < cur) { cur = r; floorCur[i] = r }
          const n = (floorCount[i] as number) + 1
          if (n < WINDOW) {
            floorCount[i] = n
          } else {
            floorPrev[i] = Math.min(cur, cap)
            cur = cap
            floorCur[i] = cap
            floorCount[i] = 0
          }
        }
        if (known && (k < d - NEAR || k > d + NEAR)) continue
        const prev = floorPrev[i] as number
        const floor = cur < prev ? cur : prev
        const ceiling = known
          ? Math.min(Math.max(ceilCur[i] as number, ceilPrev[i] as number), floor * spread)
          : Math.min(cap, floor * unknownSpread)
        const g = ceiling * hi
        if (g > bound) bound = g
      }
      this.#bounds[c] = bound
    }
  }

  /**
   * On a line with no echo found, the gain bound() takes at each band and delay (the floor capped
   * over itself by 12 dB and at the worst case), for clearBound(): between the blocks that update
   * a clear line's floors, they do not move.
   */
  cacheClearGains (): void {
    const gains = this.#clearGain
    // The cells are laid out as the gains: band by band, evaluated delay by delay.
    for (let i = 0; i < gains.length; i++) gains[i] = Math.min(this.cap, this.#floorAt(i) * CLEAR_SPREAD)
  }

  /**
   * bound() for a clear line's block that does not update the floors, from the gains
   * cacheClearGains() kept since they last moved: the same products, the same maximum.
   */
  clearBound (at: number): void {
    const his = this.#hi
    const gains = this.#clearGain
    const lags = this.#lags
    let q = 0
    for (let c = 0; c < B; c++) {
      const row = c * this.#stride + at
      let bound = 0
      for (let k = 0; k < lags; k += LAG_STEP) {
        const hi = his[row + k] as number
        const g = gains[q++] as number
        if (hi >= ACTIVE && g * hi > bound) bound = g * hi
      }
      this.#bounds[c] = bound
    }
  }

  /** The floor in band `c` at delay index `k` (an evaluated one: a multiple of LAG_STEP). */
  floor (c: number, k: number): number {
    return this.#floorAt(c * this.#cells + Math.floor(k / LAG_STEP))
  }

  /** The floor at cell `i`: the least of its two windows. */
  #floorAt (i: number): number {
    const a = this.#floorCur[i] as number
    const b = this.#floorPrev[i] as number
    return a < b ? a : b
  }

  /** A block explained as echo, `v` in band `c`: how loud it was near the echo's delay `d` (relative to what we sent) is the ceiling. */
  learnCeiling (c: number, v: number, at: number, d: number): void {
    const row = c * this.#stride + at
    // d is an evaluated delay (the correlation finds it among them), so is every k here.
    const first = firstEvaluated(Math.max(0, d - NEAR))
    for (let k = first, i = c * this.#cells + first / LAG_STEP; k <= Math.min(this.#lags - 1, d + NEAR); k += LAG_STEP, i++) {
      const hi = this.#hi[row + k] as number
      if (hi < ACTIVE) continue
      const r = Math.min(this.cap, v / hi)
      if (r > (this.#ceilCur[i] as number)) this.#ceilCur[i] = r
      const n = (this.#ceilCount[i] as number) + 1
      if (n < WINDOW) { this.#ceilCount[i] = n; continue }
      this.#ceilPrev[i] = this.#ceilCur[i] as number
      this.#ceilCur[i] = 0
      this.#ceilCount[i] = 0
    }
  }
}

/**
 * What we sent around each window position, for one band's row of `bands` (echo.ts #window): the
 * most of the three blocks from each position in [from, to], into `hi`.
 */
export function mostAround (bands: Float64Array, row: number, from: number, to: number, hi: Float64Array): void {
  let a = bands[row + from] as number
  let m = bands[row + from + 1] as number
  for (let u = row + from; u <= row + to; u++) {
    const n = bands[u + 2] as number
    hi[u] = a > m ? (a > n ? a : n) : (m > n ? m : n)
    a = m
    m = n
  }
}

/**
 * mostAround() for the blocks that update floors: the most and the least of the three blocks from
 * every position walked ([start, end - 3]) into `hi` and `lo`, and the floors' denominator
 * (SUSTAIN, DIP) into `sustained` for the positions in [from, to] the walk reaches SUSTAIN blocks
 * past both ways (bound() reads it only there).
 */
export function extremesAround (bands: Float64Array, row: number, from: number, to: number, start: number, end: number, hi: Float64Array, lo: Float64Array, sustained: Float64Array): void {
  let a = bands[row + start] as number
  let m = bands[row + start + 1] as number
  for (let u = row + start; u <= row + end - 3; u++) {
    const n = bands[u + 2] as number
    hi[u] = a > m ? (a > n ? a : n) : (m > n ? m : n)
    lo[u] = a < m ? (a < n ? a : n) : (m < n ? m : n)
    a = m
    m = n
  }
  // Three spans of three, SUSTAIN (at most 3) apart, cover the blocks between without a gap.
  for (let u = row + Math.max(from, start + SUSTAIN); u <= row + Math.min(to, end - 3 - SUSTAIN); u++) {
    const x = lo[u - SUSTAIN] as number
    const y = lo[u] as number
    const z = lo[u + SUSTAIN] as number
    const least = DIP * (x < y ? (x < z ? x : z) : (y < z ? y : z))
    sustained[u] = least < y ? least : y
  }
}

/** The first evaluated delay index at or after `k`. */
function firstEvaluated (k: number): number {
  return Math.ceil(k / LAG_STEP) * LAG_STEP
}
