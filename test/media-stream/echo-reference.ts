import { BANDS, BLOCK, BlockRing, ECHO_RATE, MAX_BLOCKS, StreamPosition, blockCount, quietSamples, skipDecimation, toEchoRate } from '../../lib/media/echo-history.ts'
import type { EchoGuardOptions, EchoLineInfo, EchoVerdict } from '../../lib/media/echo.ts'
import { DIP, SUSTAIN } from '../../lib/media/echo-ratios.ts'
import { ReferenceEchoLine, ReferenceFilterBank } from './echo-reference-parts.ts'

/**
 * A frozen copy of the echo guard (lib/media/echo.ts, echo-line.ts and the filterbank of
 * echo-history.ts) as it was at 0496fee, before its hot path was made cheaper (one window of
 * what we sent per frame instead of per 5 ms block, the filterbank's bands in one pass, each
 * delay's correlation once per frame): those changes kept its verdicts to the bit, up to
 * 331e288. The guard now looks at every delay only once every 120 ms on a line it knows: while a
 * line is learnt its verdicts are still these, to the bit (echo-identical.spec.ts); after, the
 * specs and bench/echo.ts score both (echo-identical, echo-known-line, echo-set). Since 2026-12-04
 * a floor is measured as the guard's are (echo-ratios.ts SUSTAIN, DIP). Comments
 * stripped: read them in the history. Its filterbank and line are in echo-reference-parts.ts;
 * the pieces that did not change (the stream position, the ring, the rate conversion) are
 * imported, not copied.
 */

const NO_ECHO: EchoVerdict = { echoShare: 0, echoOnly: false, doubleTalk: false }
const ACTIVE = 1e-6
const WINDOW = 128
const LAG_STEP = 2
const NEAR = 3 * LAG_STEP
const FAR_EVERY = 4
const CLEAR_SPREAD = 10 ** (12 / 10)
const NOISE_WINDOW = 100
const NOISE_BIAS = 2.5
const B = BANDS.length
const CH = B + 2
const LOG = B + 1
const SILENT_BLOCK = Array.from({ length: CH }, (_, ch) => ch === LOG ? Math.log(ACTIVE) : 0)

export class ReferenceEchoGuard {
  readonly #rate: number
  readonly #ring: BlockRing
  readonly #line: ReferenceEchoLine
  readonly #outBank = new ReferenceFilterBank()
  readonly #inBank = new ReferenceFilterBank()
  readonly #out = new StreamPosition()
  readonly #in = new StreamPosition()
  readonly #lagMin: number
  readonly #lags: number
  readonly #cap: number
  readonly #margin: number
  readonly #spread: number
  readonly #floorCur: Float64Array
  readonly #floorPrev: Float64Array
  readonly #floorCount: Uint8Array
  readonly #ceilCur: Float64Array
  readonly #ceilPrev: Float64Array
  readonly #ceilCount: Uint8Array
  readonly #slots: Int32Array
  readonly #ours: Float64Array
  readonly #logs: Float64Array
  readonly #bounds: Float64Array
  readonly #samples: Float32Array
  readonly #power: Float64Array
  readonly #decimIn = { prev: 0 }
  readonly #decimOut = { prev: 0 }
  readonly #noise = new Float64Array(B).fill(1e-9)
  readonly #noiseCur = new Float64Array(B).fill(Infinity)
  #noiseCount = 0
  #delay = -1
  #activeEnd = Number.NEGATIVE_INFINITY
  #outIdle = true
  #inIdle = true
  #blockCount = 0

  constructor (options: EchoGuardOptions) {
    if (options.rate !== 8000 && options.rate !== 16000) throw new RangeError(`echo guard: rate ${options.rate} (8000 or 16000)`)
    this.#rate = options.rate
    const maxMs = options.maxDelayMs ?? 400
    const minMs = options.minDelayMs ?? 10
    if (!(minMs >= 0 && maxMs > minMs && maxMs <= 1000)) throw new RangeError('echo guard: delays must satisfy 0 <= minDelayMs < maxDelayMs <= 1000')
    this.#lagMin = Math.floor(minMs * ECHO_RATE / 1000 / BLOCK)
    this.#lags = Math.ceil((Math.ceil(maxMs * ECHO_RATE / 1000 / BLOCK) - this.#lagMin + 1) / LAG_STEP) * LAG_STEP
    this.#ring = new BlockRing(this.#lagMin + this.#lags + 2 * MAX_BLOCKS + 24, CH, SILENT_BLOCK)
    this.#line = new ReferenceEchoLine(this.#lags, LAG_STEP)
    this.#cap = 10 ** (-(options.minErlDb ?? 6) / 10)
    this.#margin = 10 ** ((options.marginDb ?? 3) / 10)
    this.#spread = 10 ** ((options.spreadDb ?? 20) / 10)
    const cells = B * this.#lags
    this.#floorCur = new Float64Array(cells).fill(this.#cap)
    this.#floorPrev = new Float64Array(cells).fill(this.#cap)
    this.#floorCount = new Uint8Array(cells)
    this.#ceilCur = new Float64Array(cells).fill(this.#cap)
    this.#ceilPrev = new Float64Array(cells).fill(this.#cap)
    this.#ceilCount = new Uint8Array(cells)
    this.#slots = new Int32Array(this.#lags + 2)
    this.#ours = new Float64Array(B * (this.#lags + 2))
    this.#logs = new Float64Array(this.#lags + 2)
    this.#bounds = new Float64Array(B)
    this.#samples = new Float32Array(MAX_BLOCKS * BLOCK)
    this.#power = new Float64Array(MAX_BLOCKS * CH)
  }
  noteOutbound (samples: Int16Array, sentAtMs: number): void {
    const quiet = this.#outIdle && quietSamples(samples, this.#rate, this.#decimOut)
    const blocks = quiet ? blockCount(samples.length, this.#rate) : this.#blocks(samples, this.#decimOut)
    if (blocks === 0) return
    const pos = this.#out.place(sentAtMs, blocks * BLOCK) / BLOCK
    if (quiet && pos >= (this.#ring.end ?? pos)) return
    const x = this.#samples
    const e = this.#power
    let loud = false
    if (!quiet) for (let i = 0; i < blocks * BLOCK; i++) if (Math.abs(x[i] as number) > 1e-4) { loud = true; break }
    if (!loud) {
      e.fill(0, 0, blocks * CH)
      if (!this.#outIdle) this.#outBank.reset()
      this.#outIdle = true
    } else {
      this.#outIdle = false
      this.#outBank.analyse(x, blocks, e)
      for (let j = 0; j < blocks; j++) if ((e[j] as number) >= ACTIVE) this.#activeEnd = pos + j + 1
    }
    for (let j = 0; j < blocks; j++) e[LOG * blocks + j] = Math.log((e[j] as number) + ACTIVE)
    this.#ring.write(pos, blocks, e)
  }
  inbound (samples: Int16Array, atMs: number): EchoVerdict {
    const blocks = blockCount(samples.length, this.#rate)
    if (blocks === 0) return NO_ECHO
    const first = this.#in.place(atMs, blocks * BLOCK) / BLOCK
    if (first - this.#lagMin - this.#lags - 1 >= this.#activeEnd) {
      if (!this.#inIdle) this.#inBank.reset()
      this.#inIdle = true
      if (this.#rate !== ECHO_RATE) skipDecimation(samples, this.#decimIn)
      return NO_ECHO
    }
    this.#inIdle = false
    this.#blocks(samples, this.#decimIn)
    const e = this.#power
    this.#inBank.analyse(this.#samples, blocks, e)
    this.#follow()
    let explained = 0
    let total = 0
    let unexplained = 0
    for (let j = 0; j < blocks; j++) {
      this.#gather(first + j)
      const far = this.#delay >= 0 && (this.#blockCount++ % FAR_EVERY) === 0
      this.#bound(e, blocks, j, far)
      let loud = false
      for (let c = 0; c < B; c++) {
        const v = e[(c + 1) * blocks + j] as number
        const noise = this.#noise[c] as number
        const bound = this.#bounds[c] as number
        total += v
        explained += Math.min(v, bound + noise)
        if (v - noise > this.#margin * bound + noise) loud = true
      }
      if (loud) {
        unexplained++
      } else if (this.#delay >= 0) {
        for (let c = 0; c < B; c++) {
          const echo = (e[(c + 1) * blocks + j] as number) - (this.#noise[c] as number)
          if (echo > (this.#noise[c] as number)) this.#learnCeiling(c, echo)
        }
      }
      this.#correlate(e[j] as number)
      this.#trackNoise(e, blocks, j)
    }
    this.#line.decide(blocks)
    const echoShare = total > 0 ? Math.min(1, explained / total) : 0
    const echoOnly = unexplained <= 1
    return { echoShare, echoOnly, doubleTalk: !echoOnly }
  }
  get line (): EchoLineInfo {
    const { best, r } = this.#line.best()
    const d = this.#line.delay
    if (d < 0) return { state: this.#line.state, correlation: r }
    let gain = 0
    for (let c = 0; c < B; c++) gain = Math.max(gain, this.#floor(c * this.#lags + d))
    return { state: 'echo', delayMs: this.#delayMs(d), erlDb: -10 * Math.log10(gain), correlation: best === d ? r : this.#line.correlation(d) }
  }

  #delayMs (k: number): number {
    return (this.#lagMin + k) * BLOCK * 1000 / ECHO_RATE
  }

  #blocks (samples: Int16Array, state: { prev: number }): number {
    const n = toEchoRate(samples, this.#rate, this.#samples, state)
    return Math.min(MAX_BLOCKS, Math.floor(n / BLOCK))
  }
  #follow (): void {
    const d = this.#line.delay
    if (d === this.#delay) return
    this.#delay = d
    if (d < 0) return
    for (let c = 0; c < B; c++) {
      for (let k = Math.max(0, d - NEAR); k <= Math.min(this.#lags - 1, d + NEAR); k++) {
        const i = c * this.#lags + k
        this.#ceilCur[i] = this.#cap
        this.#ceilPrev[i] = this.#cap
        this.#ceilCount[i] = 0
      }
    }
  }
  #gather (b: number): void {
    const top = b - this.#lagMin + 1
    this.#ring.slots(top, this.#slots)
  }
  #correlate (v: number): void {
    const p = this.#ring.power
    const ours = this.#logs
    let loudest = 0
    for (let k = 0; k < ours.length; k++) {
      const s = this.#slots[k] as number
      if (s < 0) { ours[k] = Math.log(ACTIVE); continue }
      ours[k] = p[s + LOG] as number
      if ((p[s] as number) > loudest) loudest = p[s] as number
    }
    if (v > this.#cap * this.#margin * loudest) return
    this.#line.add(Math.log(v + ACTIVE), ours)
  }
  #bound (e: Float64Array, blocks: number, j: number, far: boolean): void {
    const p = this.#ring.power
    const ours = this.#ours
    const width = this.#lags + 2
    const d = this.#delay
    const clear = this.#line.state === 'clear'
    const from = d < 0 || far ? 0 : Math.max(0, d - NEAR)
    const to = d < 0 || far ? this.#lags - 1 : Math.min(this.#lags - 1, d + NEAR)
    for (let k = Math.max(0, from - SUSTAIN); k <= Math.min(width - 1, to + 2 + SUSTAIN); k++) {
      const s = this.#slots[k] as number
      for (let c = 0; c < B; c++) ours[c * width + k] = s < 0 ? 0 : p[s + c + 1] as number
    }
    for (let c = 0; c < B; c++) {
      const v = e[(c + 1) * blocks + j] as number
      const base = c * this.#lags
      const row = c * width
      let bound = 0
      for (let k = from - (from % LAG_STEP); k <= to; k += LAG_STEP) {
        const a = ours[row + k] as number
        const m = ours[row + k + 1] as number
        const n = ours[row + k + 2] as number
        const hi = a > m ? (a > n ? a : n) : (m > n ? m : n)
        if (hi < ACTIVE) continue
        let lo = a < m ? (a < n ? a : n) : (m < n ? m : n)
        if (k >= SUSTAIN && k < this.#lags - SUSTAIN) {
          let least = lo
          for (let u = k - SUSTAIN; u <= k + 2 + SUSTAIN; u++) least = Math.min(least, ours[row + u] as number)
          lo = Math.min(lo, DIP * least)
        }
        const i = base + k
        if (lo >= ACTIVE) this.#pushFloor(i, v / lo)
        if (d >= 0 && (k < d - NEAR || k > d + NEAR)) continue
        const ceiling = d >= 0
          ? Math.min(Math.max(this.#ceilCur[i] as number, this.#ceilPrev[i] as number), this.#floor(i) * this.#spread)
          : Math.min(this.#cap, this.#floor(i) * (clear ? CLEAR_SPREAD : this.#spread))
        const g = ceiling * hi
        if (g > bound) bound = g
      }
      this.#bounds[c] = bound
    }
  }

  #floor (i: number): number {
    const a = this.#floorCur[i] as number
    const b = this.#floorPrev[i] as number
    return a < b ? a : b
  }

  #pushFloor (i: number, r: number): void {
    if (r < (this.#floorCur[i] as number)) this.#floorCur[i] = r
    const n = (this.#floorCount[i] as number) + 1
    if (n < WINDOW) { this.#floorCount[i] = n; return }
    this.#floorPrev[i] = Math.min(this.#floorCur[i] as number, this.#cap)
    this.#floorCur[i] = this.#cap
    this.#floorCount[i] = 0
  }
  #learnCeiling (c: number, v: number): void {
    const d = this.#delay
    const base = c * this.#lags
    const p = this.#ring.power
    for (let k = Math.max(0, d - NEAR); k <= Math.min(this.#lags - 1, d + NEAR); k += LAG_STEP) {
      let hi = 0
      for (let t = k; t < k + 3; t++) {
        const s = this.#slots[t] as number
        const w = s < 0 ? 0 : p[s + c + 1] as number
        if (w > hi) hi = w
      }
      if (hi < ACTIVE) continue
      const i = base + k
      const r = Math.min(this.#cap, v / hi)
      if (r > (this.#ceilCur[i] as number)) this.#ceilCur[i] = r
      const n = (this.#ceilCount[i] as number) + 1
      if (n < WINDOW) { this.#ceilCount[i] = n; continue }
      this.#ceilPrev[i] = this.#ceilCur[i] as number
      this.#ceilCur[i] = 0
      this.#ceilCount[i] = 0
    }
  }
  #trackNoise (e: Float64Array, blocks: number, j: number): void {
    for (let c = 0; c < B; c++) {
      const v = e[(c + 1) * blocks + j] as number
      if (v < (this.#noiseCur[c] as number)) this.#noiseCur[c] = v
      if (v * NOISE_BIAS < (this.#noise[c] as number)) this.#noise[c] = v * NOISE_BIAS
    }
    if (++this.#noiseCount < NOISE_WINDOW) return
    this.#noiseCount = 0
    for (let c = 0; c < B; c++) {
      this.#noise[c] = (this.#noiseCur[c] as number) * NOISE_BIAS
      this.#noiseCur[c] = Infinity
    }
  }
}

