import type { StreamRate } from './frame.ts'

/** One frame of the caller's audio as it arrived. */
export interface InboundFrame {
  readonly samples: Int16Array
  readonly sampleRate: StreamRate
  /** Audio frames before this one (pre-RTP 0xFF frames are not counted). */
  readonly seq: number
  /** Start of this frame on the caller's media timeline (samples so far / rate), in ms. */
  readonly mediaMs: number
  /** Arrival time on the scheduler's monotonic clock, in ms. */
  readonly receivedAt: number
  /**
   * What the voice detector should hear when it differs from `samples`: the echo guard silences
   * our own echo for the VAD only, while the recogniser keeps the caller's audio (silencing it
   * there cut the first syllable out of the pre-roll).
   */
  readonly vadSamples?: Int16Array | undefined
}

/**
 * The keys of every frame we make, in this order (`vadSamples` undefined unless set): one hidden
 * class for all of them, so the code that reads frames (the VAD feed, the recogniser) stays
 * monomorphic.
 */
export const FRAME_KEYS = ['samples', 'sampleRate', 'seq', 'mediaMs', 'receivedAt', 'vadSamples'] as const

/**
 * Every frame is made here (the endpoint's, the pre-roll's copies, the echo guard's), so all of
 * them have one hidden class. A literal of the one frame shape, not a spread: on Node 20 each
 * `{ ...frame, vadSamples }` got a hidden class of its own (the clone's map is copied, then the
 * added key makes another), so every site reading frames went megamorphic and missed V8's cache on
 * every frame (--log-ic: 2,651 maps at one load in hear.ts over a turn-cpu run).
 */
export function inboundFrame (samples: Int16Array, sampleRate: StreamRate, seq: number, mediaMs: number, receivedAt: number, vadSamples: Int16Array | undefined): InboundFrame {
  return { samples, sampleRate, seq, mediaMs, receivedAt, vadSamples }
}

/**
 * The first frame the process makes has fractional numbers, so V8 gives the shape's number fields
 * the double representation from the start. The endpoint's `seq` and `mediaMs` are small integers
 * (V8's Smi) while the pre-roll's copies (FrameHistory.frames) read them back from a Float64Array,
 * which always gives a heap number: the first pre-roll taken then widened the fields from Smi to
 * double (`--trace-generalization`: "seq:s->d" at frames), deprecating the hidden class of every
 * frame made so far. In 2 of 3 one-process 500-call runs of the load bench the endpoint went on
 * making each new frame with that deprecated class (`--trace-migration`: 84,050 "seq:s->d
 * mediaMs:s->d" in one run), and the first listener to read it had V8 migrate it in its runtime:
 * a runtime call, a new hidden class lookup and a cache miss per frame, and the echo guard's
 * listener left in V8's baseline tier (perf: 2-3 % of the event loop). A double field holds a
 * Smi as it is, so nothing widens again.
 *
 * Kept for the life of the process: V8 holds a hidden class only while an object has it, and
 * drops the transition to it at a full GC once none does (the load bench's memory samples force
 * one, with every call quiet). Without this frame a GC between calls let the next frame start the
 * shape again with Smi fields, and the first pre-roll after it deprecated that one (seen with
 * `%DebugPrint` in the load server: the first frame's fields doubles, frame 300,000 "seq: 603" on a
 * deprecated_map). test/media-stream/frame-shape.spec.ts checks both.
 */
export const FIRST_FRAME: InboundFrame = inboundFrame(new Int16Array(0), 8000, 0.5, 0.5, 0.5, undefined)

/** `frame` with what the VAD should hear instead of its samples (the echo guard silenced our own echo). */
export function withVadSamples (frame: InboundFrame, vadSamples: Int16Array): InboundFrame {
  return inboundFrame(frame.samples, frame.sampleRate, frame.seq, frame.mediaMs, frame.receivedAt, vadSamples)
}

/**
 * A bounded push-to-pull bridge for one consumer of inbound frames. A consumer that falls
 * behind loses the oldest frames (counted in `dropped`) instead of growing memory without
 * limit: live audio that is a second old is worth less than the next frame.
 */
export class FrameBuffer implements AsyncIterable<InboundFrame> {
  readonly #max: number
  readonly #items: InboundFrame[] = []
  #waiter: ((r: IteratorResult<InboundFrame>) => void) | undefined
  #ended = false
  #dropped = 0
  readonly #onDone: () => void

  constructor (max: number, onDone: () => void) {
    this.#max = Math.max(1, max)
    this.#onDone = onDone
  }

  get dropped (): number { return this.#dropped }

  push (frame: InboundFrame): void {
    if (this.#ended) return
    const w = this.#waiter
    if (w !== undefined) {
      this.#waiter = undefined
      w({ value: frame, done: false })
      return
    }
    if (this.#items.length >= this.#max) {
      this.#items.shift()
      this.#dropped++
    }
    this.#items.push(frame)
  }

  /** Frames already buffered are still delivered, then iteration ends. */
  end (): void {
    if (this.#ended) return
    this.#ended = true
    this.#onDone()
    const w = this.#waiter
    if (w !== undefined && this.#items.length === 0) {
      this.#waiter = undefined
      w({ value: undefined, done: true })
    }
  }

  [Symbol.asyncIterator] (): AsyncIterator<InboundFrame> {
    return {
      next: () => {
        const item = this.#items.shift()
        if (item !== undefined) return Promise.resolve({ value: item, done: false })
        if (this.#ended) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => { this.#waiter = resolve })
      },
      return: () => {
        this.#items.length = 0
        this.end()
        return Promise.resolve({ value: undefined, done: true })
      },
    }
  }
}

export { FrameHistory, type FrameHistoryOptions } from './frame-history.ts'
