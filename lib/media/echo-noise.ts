import { BANDS } from './echo-history.ts'

const B = BANDS.length
/** Blocks per window of the minimum. */
const WINDOW = 100
/** The bias of a minimum: what the least block power is times this is about the mean. */
const BIAS = 2.5

/**
 * The caller's line noise per band, for the echo guard (echo.ts): the least block power over the
 * last one or two windows, bias-corrected (minimum statistics). Blocks come as FilterBank.analyse
 * lays them out: `e[(band + 1) * blocks + j]` is band `band` of block `j`.
 */
export class LineNoise {
  /** Doubles of state: the guard lays it out in one buffer with its filters. */
  static readonly stateLength = 2 * B
  /** The estimate per band. */
  readonly level: Float64Array
  /** The current window's minimum per band. */
  readonly #least: Float64Array
  #count = 0

  constructor (state = new Float64Array(LineNoise.stateLength)) {
    this.level = state.subarray(0, B).fill(1e-9)
    this.#least = state.subarray(B, 2 * B).fill(Infinity)
  }

  /** Every band of block `j` within twice the noise. */
  withinTwice (e: Float64Array, blocks: number, j: number): boolean {
    const level = this.level
    for (let c = 0; c < B; c++) if ((e[(c + 1) * blocks + j] as number) > 2 * (level[c] as number)) return false
    return true
  }

  /** Block `j` heard: the minimum moves down at once, and up only at the end of a window. */
  track (e: Float64Array, blocks: number, j: number): void {
    const level = this.level
    const least = this.#least
    for (let c = 0; c < B; c++) {
      const v = e[(c + 1) * blocks + j] as number
      if (v < (least[c] as number)) least[c] = v
      if (v * BIAS < (level[c] as number)) level[c] = v * BIAS
    }
    if (++this.#count < WINDOW) return
    this.#count = 0
    for (let c = 0; c < B; c++) {
      level[c] = (least[c] as number) * BIAS
      least[c] = Infinity
    }
  }
}
