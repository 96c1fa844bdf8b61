/**
 * Where the echo is (echo guard, echo.ts): the correlation of the caller's envelope with ours
 * at every candidate delay, and what it says about the line.
 *
 * Envelopes are log block powers (a loud caller would otherwise dominate the sums for many
 * seconds); ours is the mean of three blocks around each delay, as the guard's bounds use.
 * The sums forget with a ~2 s time constant of our speech, however sparsely the guard samples a
 * known line (skip(), and add()'s weight). States:
 * - learning: not enough evidence yet (the guard assumes the worst line);
 * - echo at a delay: a clear correlation peak (>= 0.5, 0.15 above any delay 30 ms or more
 *   away) or a strong one (>= 0.7). A line's echo does not go away, so this state stays: the
 *   caller talking over us lowers the correlation for a while and must not unlearn the echo.
 *   It moves to another delay only on a clear peak 0.2 above the current delay's, for 0.5 s;
 * - clear: after a second of our speech nothing correlates (< 0.3): no echo above the noise.
 *   An echo found later still wins.
 */

/** Forgetting per 5 ms block: ~2 s of memory. */
const FORGET = 1 - 1 / 400
const ECHO = 0.5
const STRONG = 0.7
const UNIQUE = 0.15
const MOVE = 0.2
const CLEAR = 0.3
/** Blocks of evidence before anything is decided (0.3 s), and before a line is declared clear (1 s). */
const MIN_WEIGHT = 60
const CLEAR_WEIGHT = 200
/** Blocks a better delay must stay best before the echo moves there (0.5 s), or is first found there (0.25 s). */
const PERSIST = 100
const PERSIST_FIRST = 50
/** Blocks an echo's delay may go uncorrelated before it is learnt again (3 s). */
const LOST = 600

/** decide()'s correlations, shared by every line (filled before it is read, within one call). */
let scratch = new Float64Array(0)

export type LineState = 'learning' | 'echo' | 'clear'

export class EchoLine {
  readonly #lags: number
  readonly #step: number
  /** Sums of our envelope at each evaluated delay (every `step`-th: k / step), and with the caller's. */
  readonly #sy: Float64Array
  readonly #syy: Float64Array
  readonly #sxy: Float64Array
  #sx = 0
  #sxx = 0
  #weight = 0
  /** Index of the echo's delay; -1 learning, -2 clear. */
  #delay = -1
  #candidate = -1
  #better = 0
  #lost = 0

  /** `lags` candidate delays, of which every `step`-th is evaluated. */
  constructor (lags: number, step: number) {
    this.#lags = lags
    this.#step = step
    // Only the evaluated delays have sums (the others were always 0): one buffer for the three.
    const n = Math.ceil(lags / step)
    const sums = new Float64Array(3 * n)
    this.#sy = sums.subarray(0, n)
    this.#syy = sums.subarray(n, 2 * n)
    this.#sxy = sums.subarray(2 * n)
  }

  get state (): LineState { return this.#delay >= 0 ? 'echo' : this.#delay === -1 ? 'learning' : 'clear' }

  /** The echo's delay index, or -1 when no echo is known. */
  get delay (): number { return this.#delay >= 0 ? this.#delay : -1 }

  /**
   * One block: the caller's log power `x`, and ours around each delay: `means[at + k]` is the
   * mean log power of what we sent in the three blocks around delay index k. `w`: how many
   * blocks it stands for (a known line is sampled one frame in a few: its blocks stand for the
   * ones between, so new evidence outweighs old as fast as when every block is added).
   */
  add (x: number, means: Float64Array, at: number, w = 1): void {
    const f = FORGET
    // With w = 1 every product below is the one it always was (w * x is x exactly).
    const wx = w * x
    this.#weight = this.#weight * f + w
    this.#sx = this.#sx * f + wx
    this.#sxx = this.#sxx * f + wx * x
    for (let k = 0, q = 0; k < this.#lags; k += this.#step, q++) {
      const y = means[at + k] as number
      const wy = w * y
      this.#sy[q] = (this.#sy[q] as number) * f + wy
      this.#syy[q] = (this.#syy[q] as number) * f + wy * y
      this.#sxy[q] = (this.#sxy[q] as number) * f + wx * y
    }
  }

  /**
   * `blocks` blocks that were not added (the guard looked at them only around the echo's delay,
   * or not at all on a clear line): the sums forget as if they had passed, so the memory stays
   * ~2 s of our speech however sparsely the line is sampled.
   */
  skip (blocks: number): void {
    if (blocks <= 0) return
    const f = FORGET ** blocks
    this.#weight *= f
    this.#sx *= f
    this.#sxx *= f
    for (let q = 0; q < this.#sy.length; q++) {
      this.#sy[q] = (this.#sy[q] as number) * f
      this.#syy[q] = (this.#syy[q] as number) * f
      this.#sxy[q] = (this.#sxy[q] as number) * f
    }
  }

  /** Decide the line's state from the sums (once a frame is enough): `blocks` added since the last time. */
  decide (blocks: number): void {
    if (this.#weight < MIN_WEIGHT) return
    // Every delay's correlation once (they are read two or three times below).
    if (scratch.length < this.#lags) scratch = new Float64Array(this.#lags)
    const rs = scratch
    let best = 0
    let r = -1
    for (let k = 0; k < this.#lags; k += this.#step) {
      const c = this.correlation(k)
      rs[k] = c
      if (c > r) { r = c; best = k }
    }
    let other = -1
    for (let k = 0; k < this.#lags; k += this.#step) {
      if (Math.abs(k - best) > 3 * this.#step) other = Math.max(other, rs[k] as number)
    }
    const peak = r - other >= UNIQUE
    const d = this.#delay
    const better = r >= ECHO && (d < 0
      ? peak
      : (peak || r >= STRONG) && best !== d && r > this.#at(rs, d) + MOVE)
    const same = Math.abs(best - this.#candidate) <= this.#step
    this.#better = better && same ? this.#better + blocks : better ? blocks : 0
    this.#candidate = best
    if (better && this.#better >= (d < 0 ? PERSIST_FIRST : PERSIST)) {
      this.#delay = best
      this.#better = 0
    } else if (d === -1 && r < CLEAR && this.#weight >= CLEAR_WEIGHT) {
      this.#delay = -2
    }
    // An echo that has not correlated for seconds was placed wrong (or the call changed
    // lines): learn again.
    if (this.#delay >= 0) {
      this.#lost = this.#at(rs, this.#delay) < CLEAR ? this.#lost + blocks : 0
      if (this.#lost >= LOST) {
        this.#delay = -1
        this.#lost = 0
      }
    }
  }

  /** Delay k's correlation, from decide()'s `rs` where it was evaluated there. */
  #at (rs: Float64Array, k: number): number {
    return k % this.#step === 0 ? rs[k] as number : this.correlation(k)
  }

  /** The best-correlated delay index and its correlation. */
  best (): { best: number, r: number } {
    let best = 0
    let r = -1
    for (let k = 0; k < this.#lags; k += this.#step) {
      const c = this.correlation(k)
      if (c > r) { r = c; best = k }
    }
    return { best, r }
  }

  /**
   * Pearson correlation of the two envelopes at delay index `k`; 0 at a delay not evaluated
   * (its sums were never added to: what they always gave).
   */
  correlation (k: number): number {
    if (k % this.#step !== 0) return 0
    const q = k / this.#step
    const n = this.#weight
    const cov = n * (this.#sxy[q] as number) - this.#sx * (this.#sy[q] as number)
    const vx = n * this.#sxx - this.#sx * this.#sx
    const vy = n * (this.#syy[q] as number) - (this.#sy[q] as number) ** 2
    return vx > 0 && vy > 0 ? cov / Math.sqrt(vx * vy) : 0
  }
}
