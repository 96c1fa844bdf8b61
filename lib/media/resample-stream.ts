import { setImmediate as nextTask } from 'node:timers/promises'
import { PhoneAgentError } from '../errors.ts'
import { decimate, resampleKernel, type ResampleKernel } from './resample.ts'

/**
 * The resampler of resample.ts, fed a chunk at a time: TTS audio arriving over the network is
 * converted as it comes, so the first 20 ms frame can be sent before the sentence is complete.
 *
 * Output j of the whole-buffer resampler needs input up to `halfWidth` samples past its centre;
 * push() emits every output whose inputs have all arrived and keeps the tail it still needs,
 * and flush() computes the rest with the signal ending there (zeros beyond, as resample()
 * treats the end). Each output is the same sum of the same products in the same order as in
 * resample(), so the concatenated outputs equal resample(whole signal) sample for sample.
 *
 * Cost per chunk: one output array (the caller may keep it: audio queues hold on to what they
 * are given) and nothing else once the history buffer has grown to its working size; the delay
 * is `halfWidth` input samples (1.8 ms at 24 -> 8 kHz).
 */
export class StreamingResampler {
  readonly fromRate: number
  readonly toRate: number
  readonly #k: ResampleKernel | undefined
  readonly #width: number
  /** Input history: sample at absolute index `#base + i` is `#buf[i]`, for i < `#len`. */
  #buf: Int16Array
  #base = 0
  #len = 0
  /** Index of the next output sample. */
  #next = 0
  #flushed = false

  constructor (fromRate: number, toRate: number) {
    this.fromRate = fromRate
    this.toRate = toRate
    // Equal rates pass samples through; resampleKernel rejects unsupported rates.
    if (fromRate === toRate) {
      if (!Number.isInteger(fromRate) || fromRate < 1000 || fromRate > 384_000) {
        throw new PhoneAgentError('MEDIA_INVALID', `resample: unsupported sample rate ${fromRate}`)
      }
      this.#k = undefined
      this.#width = 0
      this.#buf = new Int16Array(0)
      return
    }
    this.#k = resampleKernel(fromRate, toRate)
    this.#width = 2 * this.#k.halfWidth
    // Room for a few network chunks plus the filter's reach; grows if a bigger chunk comes.
    this.#buf = new Int16Array(2 * this.#width + 4096)
  }

  /** Input samples consumed so far and output samples emitted so far. */
  get position (): { readonly input: number, readonly output: number } {
    return { input: this.#base + this.#len, output: this.#next }
  }

  /** Samples of input history allocated (its working size: it must not grow with the stream). */
  get capacity (): number { return this.#buf.length }

  /** Feed the next input samples; returns the output samples that are now complete (maybe none). */
  push (chunk: Int16Array): Int16Array {
    if (this.#flushed) throw new PhoneAgentError('MEDIA_INVALID', 'resampler: push after flush')
    const k = this.#k
    if (k === undefined) {
      this.#base += chunk.length
      this.#next += chunk.length
      return chunk.slice()
    }
    this.#append(chunk)
    const received = this.#base + this.#len
    // Output j is ready when floor(j * down / up) + halfWidth <= received - 1.
    const last = received - 1 - k.halfWidth
    const end = last < 0 ? 0 : Math.floor(((last + 1) * k.up + k.down - 1) / k.down)
    return this.#emit(end, Number.POSITIVE_INFINITY)
  }

  /** The signal ended: the outputs still owed, computed with nothing after the last input. */
  flush (): Int16Array {
    if (this.#flushed) return new Int16Array(0)
    this.#flushed = true
    const k = this.#k
    if (k === undefined) return new Int16Array(0)
    const n = this.#base + this.#len
    return this.#emit(Math.floor((n * k.up + k.down - 1) / k.down), n)
  }

  #append (chunk: Int16Array): void {
    const k = this.#k as ResampleKernel
    if (this.#len + chunk.length > this.#buf.length) {
      // Drop what no future output reads: everything before the next output's first tap.
      const keepFrom = Math.max(this.#base, Math.floor(this.#next * k.down / k.up) - k.halfWidth + 1)
      const drop = Math.min(this.#len, keepFrom - this.#base)
      if (drop > 0) {
        this.#buf.copyWithin(0, drop, this.#len)
        this.#len -= drop
        this.#base += drop
      }
      if (this.#len + chunk.length > this.#buf.length) {
        const grown = new Int16Array(Math.max(2 * this.#buf.length, this.#len + chunk.length))
        grown.set(this.#buf.subarray(0, this.#len))
        this.#buf = grown
      }
    }
    this.#buf.set(chunk, this.#len)
    this.#len += chunk.length
  }

  /** Outputs #next .. end-1; `total` is the signal's final length (Infinity while it goes on). */
  #emit (end: number, total: number): Int16Array {
    const k = this.#k as ResampleKernel
    const count = end - this.#next
    if (count <= 0) return new Int16Array(0)
    const out = new Int16Array(count)
    const { up, down, halfWidth, taps, phases, exact } = k
    if (up === 1) {
      decimate(this.#buf, this.#base, this.#next * down, total, k, out, 0, count)
      this.#next = end
      return out
    }
    const width = this.#width
    const buf = this.#buf
    const base = this.#base
    for (let o = 0; o < count; o++) {
      const j = this.#next + o
      // The loop below mirrors resample() term for term, so results are bit-identical.
      const num = j * down
      const i = Math.floor(num / up)
      const p = num - i * up
      const first = i - halfWidth + 1
      const tStart = Math.max(0, -first)
      const tEnd = Math.min(width, total - first)
      const off = first - base
      let acc = 0
      if (exact) {
        const row = p * width
        for (let t = tStart; t < tEnd; t++) acc += (buf[off + t] ?? 0) * (taps[row + t] ?? 0)
      } else {
        const pos = p * phases / up
        const row0 = Math.floor(pos)
        const w = pos - row0
        const a = row0 * width
        const b = a + width
        for (let t = tStart; t < tEnd; t++) {
          const h = (taps[a + t] ?? 0) * (1 - w) + (taps[b + t] ?? 0) * w
          acc += (buf[off + t] ?? 0) * h
        }
      }
      const v = Math.round(acc)
      out[o] = v > 32767 ? 32767 : v < -32768 ? -32768 : v
    }
    this.#next = end
    return out
  }
}

/** The length resample() gives `n` samples: ceil(n * toRate / fromRate). */
export function resampledLength (n: number, fromRate: number, toRate: number): number {
  if (fromRate === toRate) return n
  const { up, down } = resampleKernel(fromRate, toRate)
  return Math.ceil(n * up / down)
}

export interface SlicedOptions {
  /** Input converted per task (default 100 ms: under a millisecond of CPU at 24 -> 8 kHz). */
  readonly sliceMs?: number | undefined
  /** Where the output goes (length `resampledLength`); a new array by default. */
  readonly out?: Int16Array | undefined
  /** After each slice, with how many output samples are ready; false stops the conversion. */
  readonly onSlice?: ((ready: number) => boolean | undefined) | undefined
  /** The wait between slices (default: setImmediate, so I/O and timers run in between). */
  readonly yieldTask?: (() => Promise<unknown>) | undefined
}

/**
 * resample() of a whole buffer, a slice per task: a minute of 44.1 kHz audio (no SIMD path: not
 * an integer ratio) is tens of ms of CPU in one piece, a stall for every call's pacing; in 100 ms
 * slices no task holds the event loop for more than about a millisecond. The first slice is converted before the first await (a caller
 * can queue its output at once). The result equals resample() sample for sample (the streaming
 * resampler's guarantee).
 */
export async function resampleSliced (samples: Int16Array, fromRate: number, toRate: number, options: SlicedOptions = {}): Promise<Int16Array> {
  const out = options.out ?? new Int16Array(resampledLength(samples.length, fromRate, toRate))
  const resampler = new StreamingResampler(fromRate, toRate)
  const step = Math.max(1, Math.round(fromRate * (options.sliceMs ?? 100) / 1000))
  const yieldTask = options.yieldTask ?? nextTask
  let filled = 0
  for (let at = 0; at < samples.length; at += step) {
    if (at > 0) await yieldTask()
    const part = resampler.push(samples.subarray(at, at + step))
    out.set(part, filled)
    filled += part.length
    if (at + step >= samples.length) {
      const tail = resampler.flush()
      out.set(tail, filled)
      filled += tail.length
    }
    if (options.onSlice?.(filled) === false) break
  }
  return out
}
