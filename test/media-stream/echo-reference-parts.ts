import { BANDS, BLOCK, ECHO_RATE } from '../../lib/media/echo-history.ts'

/**
 * The frozen reference guard's filterbank and line (echo-reference.ts), as they were at 0496fee:
 * split from it only to keep each file short. Comments stripped: read them in the history.
 */

export class ReferenceFilterBank {
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
  reset (): void { this.#state.fill(0) }
}

/** Forgetting per 5 ms block: ~2 s of memory. */
const FORGET = 1 - 1 / 400
const ECHO = 0.5
const STRONG = 0.7
const UNIQUE = 0.15
const MOVE = 0.2
const CLEAR = 0.3
const MIN_WEIGHT = 60
const CLEAR_WEIGHT = 200
const PERSIST = 100
const PERSIST_FIRST = 50
const LOST = 600


export class ReferenceEchoLine {
  readonly #lags: number
  readonly #step: number
  readonly #sy: Float64Array
  readonly #syy: Float64Array
  readonly #sxy: Float64Array
  #sx = 0
  #sxx = 0
  #weight = 0
  #delay = -1
  #candidate = -1
  #better = 0
  #lost = 0
  constructor (lags: number, step: number) {
    this.#lags = lags
    this.#step = step
    this.#sy = new Float64Array(lags)
    this.#syy = new Float64Array(lags)
    this.#sxy = new Float64Array(lags)
  }

  get state (): 'learning' | 'echo' | 'clear' { return this.#delay >= 0 ? 'echo' : this.#delay === -1 ? 'learning' : 'clear' }
  get delay (): number { return this.#delay >= 0 ? this.#delay : -1 }
  add (x: number, ours: Float64Array): void {
    const f = FORGET
    this.#weight = this.#weight * f + 1
    this.#sx = this.#sx * f + x
    this.#sxx = this.#sxx * f + x * x
    for (let k = 0; k < this.#lags; k += this.#step) {
      const y = ((ours[k] as number) + (ours[k + 1] as number) + (ours[k + 2] as number)) / 3
      this.#sy[k] = (this.#sy[k] as number) * f + y
      this.#syy[k] = (this.#syy[k] as number) * f + y * y
      this.#sxy[k] = (this.#sxy[k] as number) * f + x * y
    }
  }
  decide (blocks: number): void {
    if (this.#weight < MIN_WEIGHT) return
    const { best, r } = this.best()
    let other = -1
    for (let k = 0; k < this.#lags; k += this.#step) {
      if (Math.abs(k - best) > 3 * this.#step) other = Math.max(other, this.correlation(k))
    }
    const peak = r - other >= UNIQUE
    const d = this.#delay
    const better = r >= ECHO && (d < 0
      ? peak
      : (peak || r >= STRONG) && best !== d && r > this.correlation(d) + MOVE)
    const same = Math.abs(best - this.#candidate) <= this.#step
    this.#better = better && same ? this.#better + blocks : better ? blocks : 0
    this.#candidate = best
    if (better && this.#better >= (d < 0 ? PERSIST_FIRST : PERSIST)) {
      this.#delay = best
      this.#better = 0
    } else if (d === -1 && r < CLEAR && this.#weight >= CLEAR_WEIGHT) {
      this.#delay = -2
    }
    if (this.#delay >= 0) {
      this.#lost = this.correlation(this.#delay) < CLEAR ? this.#lost + blocks : 0
      if (this.#lost >= LOST) {
        this.#delay = -1
        this.#lost = 0
      }
    }
  }
  best (): { best: number, r: number } {
    let best = 0
    let r = -1
    for (let k = 0; k < this.#lags; k += this.#step) {
      const c = this.correlation(k)
      if (c > r) { r = c; best = k }
    }
    return { best, r }
  }
  correlation (k: number): number {
    const n = this.#weight
    const cov = n * (this.#sxy[k] as number) - this.#sx * (this.#sy[k] as number)
    const vx = n * this.#sxx - this.#sx * this.#sx
    const vy = n * (this.#syy[k] as number) - (this.#sy[k] as number) ** 2
    return vx > 0 && vy > 0 ? cov / Math.sqrt(vx * vy) : 0
  }
}
