import { BANDS, BLOCK, BlockRing, ECHO_RATE, FilterBank, MAX_BLOCKS, StreamPosition, blockCount, quietSamples, scratchFor, skipDecimation, toEchoRate, windowFor } from './echo-history.ts'
import { EchoLine, type LineState } from './echo-line.ts'
import { LineNoise } from './echo-noise.ts'
import { ACTIVE, EchoRatios, extremesAround, LAG_STEP, mostAround, NEAR, SUSTAIN } from './echo-ratios.ts'

/**
 * Echo guard: tells, frame by frame, whether what the caller's line sends is our own output
 * coming back (line or handset echo, 20-300 ms late, attenuated), so that barge-in can ignore
 * it, while a caller who really talks over us still gets through (double talk).
 *
 * Not an echo canceller: nothing is subtracted from the audio. It keeps what we sent as 5 ms
 * block powers, broadband and in four bands (echo-history.ts), and compares the caller's blocks
 * with ours at every candidate delay (10-400 ms, every 10 ms):
 * - where the echo is: the correlation of the two envelopes (echo-line.ts) finds the delay, or
 *   finds that the line has no echo above its noise;
 * - how loud it is, per band: the ratio of what came back to what we sent then has a floor at
 *   the echo's delay (the echo return loss, ERL: what comes back is at least the echo; the caller
 *   talking over us only raises it; measured against what we sent within ±15 ms of the delay, so
 *   that an echo that moves that far between prompts keeps it), and a ceiling, learnt from blocks
 *   already explained as echo.
 *   A line's echo path is far from flat within the telephone band (the hybrid and line cards
 *   cut the low end, a handset colours it), so bands keep the spread to a few dB where the
 *   broadband ratio swings by 15 dB between a vowel and a fricative. The ceiling never goes
 *   above the floor plus `spreadDb`, and before anything is learnt it is the worst a line
 *   should have: ITU-T G.168 tests echo cancellers down to an ERL of 6 dB.
 * A band of a caller's block is explained when it is no louder than the ceiling times the most
 * we sent in the three blocks around the delay (dispersion, alignment), plus `marginDb` and the
 * line noise. A frame is echo-only when at most one of its four blocks has a band that is not:
 * a caller's voice is louder than our echo in some band, usually the lowest, where line echo
 * is weakest. While the delay is being learnt every delay counts (the worst-case ceiling, capped
 * by floor + `spreadDb`); on a line with no echo found too, capped by floor + 12 dB.
 * Floors and ceilings are windowed extremes (two windows of 128 updates, the older dropped when
 * the newer fills: minimum statistics), so the guard follows a line that changes.
 *
 * Cost: the filterbanks (~25 flops a sample each way) and, per 5 ms block, a few hundred
 * compares while the line is learnt (every band and delay). Once it is known (an echo's delay,
 * or none), one frame in FULL_EVERY blocks (120 ms) looks at every delay: the floors far from
 * the echo, the correlation that would find a new or moved echo (its blocks weigh for the ones
 * between, so a changed line is followed in about the time it always was). The frames between
 * look only at the seven delays around the echo's; on a clear line a block within twice the line
 * noise in every band cannot be loud and needs nothing more, and a louder one multiplies the
 * gains its floors give (cached: they move only on a full look) by what we sent. Only a level
 * check while we have been silent longer than the longest delay; the silence we send, scanned.
 * 7.2 KB a call (bench/echo.ts): the ring of what we sent (3.1 KB of 32-bit floats, let go 1.65 s
 * after we last spoke), the floors, ceilings and gains (3.5 KB), the correlation's sums (1 KB). */

export interface EchoGuardOptions {
  /** Sample rate of the frames given (8000 or 16000). */
  readonly rate: number
  /** Longest delay from our send to the echo's arrival, ms (default 400: 300 ms of line + our pipeline). */
  readonly maxDelayMs?: number
  /** Shortest delay, ms (default 10). */
  readonly minDelayMs?: number
  /** The worst echo return loss assumed before the line is measured, dB (default 6, G.168's floor). */
  readonly minErlDb?: number
  /** How much louder than the loudest echo seen a band must be to count as the caller, dB (default 3). */
  readonly marginDb?: number
  /** How far above its floor a band's echo can ever be, dB (default 20). */
  readonly spreadDb?: number
  /** Work out no bound for a clear line's block within twice the noise (default true; false: tests compare). */
  readonly skipQuietBounds?: boolean
}

export interface EchoVerdict {
  /**
   * 0..1: the share of the frame's power (in the telephone band) our own output and the line noise
   * explain; on a line found clear, a block within twice the line noise counts as explained.
   */
  readonly echoShare: number
  /** The frame is our echo (and line noise), nothing the caller said: barge-in should ignore it. */
  readonly echoOnly: boolean
  /** Our output may be echoing and the caller adds power of their own: they talk over us. */
  readonly doubleTalk: boolean
}

export interface EchoLineInfo {
  readonly state: LineState
  /** Delay from our send to the echo's arrival, when found (ms). */
  readonly delayMs?: number
  /** The echo's floor in its loudest band, dB below what we sent: about the line's ERL. */
  readonly erlDb?: number
  /** Correlation of the envelopes at the best delay. */
  readonly correlation: number
}

const NO_ECHO: EchoVerdict = { echoShare: 0, echoOnly: false, doubleTalk: false }

/**
 * Once the line is known, blocks between full looks at every delay (120 ms): far from the echo's
 * delay, floors are kept up to date on one block in FULL_EVERY, and the correlation that would
 * find a new or moved echo sees one frame in as many blocks.
 */
const FULL_EVERY = 24
const B = BANDS.length
/** Ring channels: broadband power, the bands, log broadband power. */
const CH = B + 2
const LOG = B + 1
/** Ring channels of a silent block, as noteOutbound writes it and the ring's 32-bit floats hold it. */
const SILENT_LOG = Math.fround(Math.log(ACTIVE))
/** Shared by every guard's ring, which only reads it. */
const SILENT_BLOCK = Float64Array.from({ length: CH }, (_, ch) => ch === LOG ? SILENT_LOG : 0)

export class EchoGuard {
  readonly #rate: number
  readonly #ring: BlockRing
  readonly #line: EchoLine
  readonly #outBank: FilterBank
  readonly #inBank: FilterBank
  readonly #out = new StreamPosition()
  readonly #in = new StreamPosition()
  readonly #lagMin: number
  readonly #lags: number
  readonly #margin: number
  /** What came back over what we sent, per band and candidate delay: floors and ceilings. */
  readonly #ratios: EchoRatios
  /** Scratch, shared by all guards (filled before it is read, within one call). */
  readonly #slots: Int32Array
  readonly #bands: Float64Array
  readonly #hi: Float64Array
  readonly #lo: Float64Array
  readonly #sustained: Float64Array
  readonly #power1: Float64Array
  readonly #logMean: Float64Array
  /** Positions per band in #hi and #lo. */
  readonly #stride: number
  readonly #bounds: Float64Array
  readonly #samples: Float32Array
  readonly #power: Float64Array
  readonly #decimIn = { prev: 0 }
  readonly #decimOut = { prev: 0 }
  /** The caller's line noise per band. */
  readonly #noise: LineNoise
  /** The echo's delay index while it is known, else -1; the ceilings around it were reset for it. */
  #delay = -1
  /** One past the last block of ours loud enough to echo. */
  #activeEnd = Number.NEGATIVE_INFINITY
  #outIdle = true
  #inIdle = true
  readonly #skipQuiet: boolean
  /** Blocks judged without a bound (skipQuietBounds), for tests. */
  quietBlocks = 0
  /** Blocks judged since the last full look at every delay. */
  #sinceFull = 0

  constructor (options: EchoGuardOptions) {
    if (options.rate !== 8000 && options.rate !== 16000) throw new RangeError(`echo guard: rate ${options.rate} (8000 or 16000)`)
    this.#rate = options.rate
    const maxMs = options.maxDelayMs ?? 400
    const minMs = options.minDelayMs ?? 10
    if (!(minMs >= 0 && maxMs > minMs && maxMs <= 1000)) throw new RangeError('echo guard: delays must satisfy 0 <= minDelayMs < maxDelayMs <= 1000')
    this.#lagMin = Math.floor(minMs * ECHO_RATE / 1000 / BLOCK)
    this.#lags = Math.ceil((Math.ceil(maxMs * ECHO_RATE / 1000 / BLOCK) - this.#lagMin + 1) / LAG_STEP) * LAG_STEP
    // Room for the longest delay, its neighbour, a frame and our frames sent ahead of time.
    this.#ring = new BlockRing(this.#lagMin + this.#lags + 2 * MAX_BLOCKS + 24, CH, SILENT_BLOCK)
    this.#line = new EchoLine(this.#lags, LAG_STEP)
    this.#margin = 10 ** ((options.marginDb ?? 3) / 10)
    this.#skipQuiet = options.skipQuietBounds ?? true
    const N = LineNoise.stateLength
    const state = new Float64Array(N + 2 * FilterBank.stateLength) // noise and filters: one ArrayBuffer, not three
    this.#noise = new LineNoise(state.subarray(0, N))
    this.#outBank = new FilterBank(state.subarray(N, N + FilterBank.stateLength))
    this.#inBank = new FilterBank(state.subarray(N + FilterBank.stateLength))
    ;({ slots: this.#slots, bands: this.#bands, hi: this.#hi, lo: this.#lo, sustained: this.#sustained, power1: this.#power1, logMean: this.#logMean, bounds: this.#bounds, samples: this.#samples, power: this.#power } = scratchFor(this.#lags))
    this.#stride = windowFor(this.#lags)
    this.#ratios = new EchoRatios({
      lags: this.#lags,
      stride: this.#stride,
      hi: this.#hi,
      lo: this.#lo,
      sustained: this.#sustained,
      bounds: this.#bounds,
      cap: 10 ** (-(options.minErlDb ?? 6) / 10),
      spread: 10 ** ((options.spreadDb ?? 20) / 10),
    })
  }

  /** Every frame we send (silence included), with the time it was sent (the endpoint's tick clock, ms). */
  noteOutbound (samples: Int16Array, sentAtMs: number): void {
    // Silence while silent (all a quiet call sends) only takes its place: blocks past the ring's
    // end read as silence (BlockRing), so not writing them is exact unless a re-anchored stream
    // steps back over blocks written. The float test below calls |sample| <= 3 silent.
    const quiet = this.#outIdle && quietSamples(samples, this.#rate, this.#decimOut)
    const blocks = quiet ? blockCount(samples.length, this.#rate) : this.#blocks(samples, this.#decimOut)
    if (blocks === 0) return
    const pos = this.#out.place(sentAtMs, blocks * BLOCK) / BLOCK
    if (quiet && pos >= (this.#ring.end ?? pos)) {
      this.#ring.idle(pos)
      return
    }
    const x = this.#samples
    const e = this.#power
    let loud = false
    if (!quiet) for (let i = 0; i < blocks * BLOCK; i++) if (Math.abs(x[i] as number) > 1e-4) { loud = true; break }
    if (!loud) {
      // Silence costs no filtering: zeros, and the filters start clean next time.
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

  /** Every frame received from the caller, with the time it arrived (same clock as noteOutbound). */
  inbound (samples: Int16Array, atMs: number): EchoVerdict {
    const blocks = blockCount(samples.length, this.#rate)
    if (blocks === 0) return NO_ECHO
    const first = this.#in.place(atMs, blocks * BLOCK) / BLOCK
    // Nothing we sent can be coming back: the common case, and free (the samples not even converted).
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
    const d = this.#line.delay
    // The echo moved (or was found): its ceilings start from the worst case again.
    if (d !== this.#delay) { this.#delay = d; if (d >= 0) this.#ratios.resetCeilings(d) }
    const clear = this.#line.state === 'clear'
    // While the line is learnt, every block looks at every delay. Once it is known (an echo's
    // delay, or none), one frame in FULL_EVERY blocks does (the floors of every delay, the
    // correlation that would find a new or moved echo); the others look only around the delay,
    // or on a clear line bound the echo from the gains as they are.
    this.#sinceFull += blocks
    const full = d < 0 && !clear ? true : this.#sinceFull >= FULL_EVERY
    const lazy = clear && !full && this.#skipQuiet
    if (d >= 0 && !full) this.#window(first, blocks, Math.max(0, d - NEAR), Math.min(this.#lags - 1, d + NEAR) + blocks - 1, false, true)
    else if (!lazy) this.#window(first, blocks, 0, this.#lags + blocks - 2, full, full)
    let laid = !lazy
    let explained = 0
    let total = 0
    let unexplained = 0
    for (let j = 0; j < blocks; j++) {
      // Block j's delay index k is window position at + k.
      const at = blocks - 1 - j
      // Within twice the line noise in every band on a clear line: not loud whatever the bound (loud
      // needs v > 2 * noise), counted as line noise. Between full looks neither its bound nor (unless
      // another block needs it) what we sent is worked out: a silent caller costs the filterbank alone.
      const quiet = clear && this.#noise.withinTwice(e, blocks, j)
      if (quiet && lazy) {
        for (let c = 0; c < B; c++) { const v = e[(c + 1) * blocks + j] as number; total += v; explained += v }
        this.quietBlocks++
        this.#noise.track(e, blocks, j)
        continue
      }
      if (!laid) {
        this.#window(first, blocks, 0, this.#lags + blocks - 2, false, false)
        laid = true
      }
      // A full look keeps every delay's floors on its first block (far from a known delay, or on
      // a clear line) or on all of them (learning); a known delay's own, on every block. A clear
      // line's other blocks read its floors as they are.
      if (clear && !(full && j === 0)) {
        this.#ratios.clearBound(at)
      } else {
        this.#ratios.bound(e, blocks, j, at, d, clear, full && j === 0)
        if (clear) this.#ratios.cacheClearGains()
      }
      let loud = false
      const noises = this.#noise.level
      for (let c = 0; c < B; c++) {
        const v = e[(c + 1) * blocks + j] as number
        const noise = noises[c] as number
        const bound = this.#bounds[c] as number
        total += v
        explained += quiet ? v : Math.min(v, bound + noise)
        if (v - noise > this.#margin * bound + noise) loud = true
      }
      if (loud) {
        unexplained++
      } else if (this.#delay >= 0) {
        for (let c = 0; c < B; c++) {
          // A band within the line noise says nothing about how loud the echo gets (and its
          // residue over a quiet block of ours would read as a loud echo).
          const echo = (e[(c + 1) * blocks + j] as number) - (noises[c] as number)
          if (echo > (noises[c] as number)) this.#ratios.learnCeiling(c, echo, at, this.#delay)
        }
      }
      if (full) this.#correlate(e[j] as number, at, this.#sinceFull / blocks)
      this.#noise.track(e, blocks, j)
    }
    if (full) {
      // The blocks looked at only around the delay since the last full look passed too.
      this.#line.skip(this.#sinceFull - blocks)
      this.#line.decide(this.#sinceFull)
      this.#sinceFull = 0
      if (!clear && (this.#line.state as LineState) === 'clear') this.#ratios.cacheClearGains()
    }
    const echoShare = total > 0 ? Math.min(1, explained / total) : 0
    const echoOnly = unexplained <= 1
    return { echoShare, echoOnly, doubleTalk: !echoOnly }
  }

  /** What the guard knows of the line (logs, the bench). */
  get line (): EchoLineInfo {
    const { best, r } = this.#line.best()
    const d = this.#line.delay
    if (d < 0) return { state: this.#line.state, correlation: r }
    let gain = 0
    for (let c = 0; c < B; c++) gain = Math.max(gain, this.#ratios.floor(c, d))
    return { state: 'echo', delayMs: this.#delayMs(d), erlDb: -10 * Math.log10(gain), correlation: best === d ? r : this.#line.correlation(d) }
  }

  #delayMs (k: number): number {
    return (this.#lagMin + k) * BLOCK * 1000 / ECHO_RATE
  }

  #blocks (samples: Int16Array, state: { prev: number }): number {
    const n = toEchoRate(samples, this.#rate, this.#samples, state)
    return Math.min(MAX_BLOCKS, Math.floor(n / BLOCK))
  }

  /**
   * What we sent, laid out once for all the caller's blocks of a frame (`blocks` of them from block
   * `first`). Position u is our block `first + blocks - lagMin - u`: the caller's block j meets
   * ours at delay lagMin - 1 + k blocks at position blocks - 1 - j + k, so one walk of the ring
   * serves every block of the frame, and what the bounds and the correlation take from each three
   * neighbouring blocks (the most and the least per band, the mean log power) is computed once per
   * position instead of once per block and delay. #hi and #lo are filled only for the positions
   * [from, to] the frame's blocks read; `all`: the whole window is walked, with the broadband
   * powers and mean log powers the correlation reads, else only what [from, to] reads; `least`: #lo
   * and #sustained too (the blocks that update floors read them; echo-ratios.ts SUSTAIN).
   */
  #window (first: number, blocks: number, from: number, to: number, all: boolean, least: boolean): void {
    // The floors' (`least`) reach SUSTAIN blocks further each side.
    const start = all ? 0 : least ? Math.max(0, from - SUSTAIN) : from
    const end = all ? blocks + this.#lags + 1 : Math.min(this.#stride, to + 3 + (least ? SUSTAIN : 0))
    const slots = this.#slots
    this.#ring.slots(first + blocks - this.#lagMin - start, slots, end - start, start)
    const p = this.#ring.power
    const power = this.#power1
    const means = this.#logMean
    const stride = this.#stride
    const bands = this.#bands
    let l2 = 0
    let l1 = 0
    for (let u = start; u < end; u++) {
      const s = slots[u] as number
      // Written out for the four bands (echo-history.ts checks there are four).
      if (s < 0) {
        bands[u] = 0
        bands[stride + u] = 0
        bands[2 * stride + u] = 0
        bands[3 * stride + u] = 0
      } else {
        bands[u] = p[s + 1] as number
        bands[stride + u] = p[s + 2] as number
        bands[2 * stride + u] = p[s + 3] as number
        bands[3 * stride + u] = p[s + 4] as number
      }
      if (!all) continue
      power[u] = s < 0 ? 0 : p[s] as number
      const l = s < 0 ? SILENT_LOG : p[s + LOG] as number
      // The same sum in the same order as the correlation always took it: (u + (u + 1)) + (u + 2).
      if (u >= 2) means[u - 2] = (l2 + l1 + l) / 3
      l2 = l1
      l1 = l
    }
    for (let c = 0; c < B; c++) {
      if (least) extremesAround(bands, c * stride, from, to, start, end, this.#hi, this.#lo, this.#sustained)
      else mostAround(bands, c * stride, from, to, this.#hi)
    }
  }

  /**
   * One broadband block of the caller's against ours at every delay (from position `at`), unless
   * it is the caller alone; standing for `w` blocks (the ones since the last full look, shared).
   */
  #correlate (v: number, at: number, w: number): void {
    const power = this.#power1
    let loudest = 0
    for (let u = at; u <= at + this.#lags + 1; u++) if ((power[u] as number) > loudest) loudest = power[u] as number
    // Louder than any echo of what we sent could be: the caller's alone, and it would only blur
    // the correlation (a caller talking over us for a second can move its peak).
    if (v > this.#ratios.cap * this.#margin * loudest) return
    this.#line.add(Math.log(v + ACTIVE), this.#logMean, at, w)
  }
}
