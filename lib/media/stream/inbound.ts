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
 * `frame` with what the VAD should hear instead of its samples. A literal of the one frame shape,
 * not a spread: on Node 20 each `{ ...frame, vadSamples }` got a hidden class of its own (the
 * clone's map is copied, then the added key makes another), so every site reading frames went
 * megamorphic and missed V8's cache on every frame (--log-ic: 2,651 maps at one load in hear.ts
 * over a turn-cpu run; new maps, descriptor arrays and runtime lookups in the profile).
 */
export function withVadSamples (frame: InboundFrame, vadSamples: Int16Array): InboundFrame {
  return { samples: frame.samples, sampleRate: frame.sampleRate, seq: frame.seq, mediaMs: frame.mediaMs, receivedAt: frame.receivedAt, vadSamples }
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

/**
 * How long a FrameHistory keeps what it holds: the full capacity only while the line may be
 * confirming speech, else the pre-roll alone.
 */
export interface FrameHistoryOptions {
  /** Frames kept while the line is quiet (the pre-roll and a margin); default: the capacity, always. */
  readonly quietFrames?: number
  /**
   * A frame with a sample at least this loud (absolute) keeps the full capacity for `holdFrames`
   * frames. A detector that hears speech only above a level (the VAD's minEnergyDb: a frame's
   * mean square, never above its peak) can only start an utterance on such a frame.
   */
  readonly loudPeak?: number
  /** Frames after the last loud one before the history shrinks back to `quietFrames`. */
  readonly holdFrames?: number
}

/**
 * The last `capacity` frames of a call's audio, kept for the recogniser's pre-roll: their samples
 * copied into one array allocated on the first frame, their timing in typed arrays. Kept as the
 * frames themselves (~2.3 s of them), each held its datagram (a 320-byte ArrayBuffer with a
 * backing store of its own) and four objects, all living long enough to be promoted to the old
 * generation: about 65 KB per call at 8 kHz and a steady flow of old garbage; here 37 KB. A push
 * is one copy and allocates nothing; `frames()` rebuilds the frames (copies) when a turn needs
 * them, at an onset.
 *
 * The capacity is for the worst case: a detector confirms an onset up to ~2 s after it (its
 * minimum speech, with the gaps it tolerates). Such an onset is a loud frame, so with
 * `quietFrames` the samples array holds only the pre-roll while the line is quiet (6.4 KB
 * instead of 37 at 8 kHz with the default 300 ms pre-roll: most of a call's life) and grows to
 * the capacity at a loud frame, with the frames it had; it shrinks back `holdFrames` after the
 * last loud one. What `frames()` returns from an onset's pre-roll on is then the same as with
 * the full capacity always.
 *
 * The capacity is needed only while a detector could still confirm an onset it heard: from its
 * start (`expect`) until it confirmed one and took its frames, or stopped (`settle`). Settled,
 * the history keeps the pre-roll alone whatever the line does: while the caller speaks after the
 * onset was taken (the recogniser has those frames), and in the 2 s hold after it, a talking
 * call held the full 37 KB for no one (docs/benchmarks.md, "Memory per talking call, eleventh
 * session"). A detector started later dates its onsets from its own first frame at the earliest
 * (Silero from its 32 ms window), so the pre-roll with its margin is all it can ask for.
 */
export class FrameHistory {
  readonly #capacity: number
  readonly #quietFrames: number
  readonly #loudPeak: number
  readonly #holdFrames: number
  /** Slots in the samples array now: `#quietFrames`, or `#capacity` while loud frames are recent. */
  #slots: number
  /** Frames since the last loud one. */
  #sinceLoud = Number.POSITIVE_INFINITY
  /** A detector may confirm an onset from the frames held (`expect`), or none will ask (`settle`). */
  #pending = true
  /** Samples per slot: the longest frame seen (a frame is 20 ms; a longer one re-lays the slots). */
  #slot = 0
  #samples: Int16Array | undefined
  /** Sized with the samples: `#slots` entries (a quiet call's 25, not the capacity's 115). */
  #lengths: Uint16Array
  /** seq, mediaMs, receivedAt of each slot. */
  #times: Float64Array
  #rate: StreamRate = 8000
  /** Frames pushed since the last clear or re-layout; slot of frame n is n % #slots. */
  #count = 0

  constructor (capacity: number, options: FrameHistoryOptions = {}) {
    this.#capacity = Math.max(1, Math.floor(capacity))
    this.#quietFrames = Math.min(this.#capacity, Math.max(1, Math.floor(options.quietFrames ?? this.#capacity)))
    this.#loudPeak = options.loudPeak ?? 0
    this.#holdFrames = Math.max(1, Math.floor(options.holdFrames ?? this.#capacity))
    this.#slots = this.#quietFrames
    this.#lengths = new Uint16Array(this.#slots)
    this.#times = new Float64Array(this.#slots * 3)
  }

  /** Frames held (at most `capacity`; at most `quietFrames` while the line is quiet). */
  get length (): number { return Math.min(this.#count, this.#slots) }

  push (frame: InboundFrame): void {
    const n = frame.samples.length
    if (this.#pending && (this.#slots < this.#capacity || this.#sinceLoud < this.#holdFrames)) this.#watch(frame.samples)
    if (this.#samples === undefined || n > this.#slot) this.#relayout(n, this.#slots)
    this.#rate = frame.sampleRate
    const i = this.#count % this.#slots
    ;(this.#samples as Int16Array).set(frame.samples, i * this.#slot)
    this.#lengths[i] = n
    this.#times[i * 3] = frame.seq
    this.#times[i * 3 + 1] = frame.mediaMs
    this.#times[i * 3 + 2] = frame.receivedAt
    this.#count++
  }

  /** The frames held, oldest first, as fresh frames (their samples are copies: keep them). */
  frames (): InboundFrame[] {
    const out: InboundFrame[] = []
    const samples = this.#samples
    if (samples === undefined) return out
    for (let k = this.#count - this.length; k < this.#count; k++) {
      const i = k % this.#slots
      const at = i * this.#slot
      out.push({
        samples: samples.slice(at, at + (this.#lengths[i] as number)),
        sampleRate: this.#rate,
        seq: this.#times[i * 3] as number,
        mediaMs: this.#times[i * 3 + 1] as number,
        receivedAt: this.#times[i * 3 + 2] as number,
        vadSamples: undefined,
      })
    }
    return out
  }

  /** Forget every frame (a new stream); the samples array is kept for it. */
  clear (): void { this.#count = 0 }

  /**
   * A detector starts: it may confirm an onset from its next frame on, up to the capacity later,
   * so a loud frame keeps the full capacity again (as before any `settle`).
   */
  expect (): void {
    this.#pending = true
  }

  /**
   * No onset before now will be asked for (the detector confirmed its onset and took the frames,
   * or stopped): back to the pre-roll at once, and no growth until `expect`.
   */
  settle (): void {
    this.#pending = false
    this.#sinceLoud = Number.POSITIVE_INFINITY
    if (this.#slots <= this.#quietFrames) return
    if (this.#samples !== undefined) this.#relayout(this.#slot, this.#quietFrames)
    else this.#slots = this.#quietFrames
  }

  /** Grow to the capacity at a loud frame; shrink back once `holdFrames` passed without one. */
  #watch (samples: Int16Array): void {
    const peak = this.#loudPeak
    let loud = false
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i] as number
      if (v >= peak || v <= -peak) { loud = true; break }
    }
    if (loud) {
      this.#sinceLoud = 0
      if (this.#slots < this.#capacity && this.#samples !== undefined) this.#relayout(this.#slot, this.#capacity)
      else this.#slots = this.#capacity
      return
    }
    this.#sinceLoud++
    if (this.#sinceLoud >= this.#holdFrames && this.#slots > this.#quietFrames) {
      if (this.#samples !== undefined) this.#relayout(this.#slot, this.#quietFrames)
      else this.#slots = this.#quietFrames
    }
  }

  /** A new samples array of `slots` slots of `slot` samples, holding the newest frames held, in order from slot 0. */
  #relayout (slot: number, slots: number): void {
    const old = this.#samples
    const oldSlot = this.#slot
    const oldSlots = this.#slots
    const kept = Math.min(this.length, slots)
    const first = this.#count - kept
    const lengths = this.#lengths
    const times = this.#times
    this.#slot = slot
    this.#slots = slots
    this.#samples = new Int16Array(slot * slots)
    // Before the first frame `#slots` may have moved without the arrays (#watch, settle).
    if (lengths.length !== slots) {
      this.#lengths = new Uint16Array(slots)
      this.#times = new Float64Array(slots * 3)
    } else {
      this.#lengths = lengths.slice()
      this.#times = times.slice()
    }
    this.#count = kept
    if (old === undefined) return
    for (let j = 0; j < kept; j++) {
      const i = (first + j) % oldSlots
      const len = lengths[i] as number
      this.#samples.set(old.subarray(i * oldSlot, i * oldSlot + len), j * slot)
      this.#lengths[j] = len
      this.#times[j * 3] = times[i * 3] as number
      this.#times[j * 3 + 1] = times[i * 3 + 1] as number
      this.#times[j * 3 + 2] = times[i * 3 + 2] as number
    }
  }
}
