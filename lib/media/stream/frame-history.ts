import { encodeExact, exactLaw, isExact, type G711Law } from '../g711.ts'
import type { StreamRate } from './frame.ts'
import { inboundFrame, type InboundFrame } from './inbound.ts'

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
 *
 * On a G.711 line (FreeSWITCH's L16 from a PCMA or PCMU call: every sample one of the law's 256
 * values, lib/media/g711.ts) the slots hold each sample's code, a byte instead of two: 3.2 KB for
 * a quiet call's pre-roll at 8 kHz. A frame that is not exact in the law (the 0xFF frames of a
 * pause in the caller's RTP) turns the slots back into 16-bit samples, and once every frame held
 * is exact again they are codes again: `frames()` always gives back exactly what was pushed.
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
  /** The slots: 16-bit samples, or while every frame held is exact in `#law`, their codes. */
  #samples: Int16Array | Uint8Array | undefined
  /** The line's G.711 law, from the first frame exact in one. */
  #law: G711Law | undefined
  /** Frames pushed in a row that are exact in the law. */
  #exactRun = 0
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

  /** Bytes of the slots now (a byte a sample while they hold codes). */
  get slotBytes (): number { return this.#samples?.byteLength ?? 0 }

  /** Frames held (at most `capacity`; at most `quietFrames` while the line is quiet). */
  get length (): number { return Math.min(this.#count, this.#slots) }

  push (frame: InboundFrame): void {
    const n = frame.samples.length
    if (this.#pending && (this.#slots < this.#capacity || this.#sinceLoud < this.#holdFrames)) this.#watch(frame.samples)
    if (this.#samples === undefined || n > this.#slot) this.#relayout(Math.max(n, this.#slot), this.#slots, false)
    this.#rate = frame.sampleRate
    const i = this.#count % this.#slots
    // Coded: the frame is checked and coded into its slot in one pass. One that is not exact
    // turns the slots into samples; only its own slot held what it left there, and that slot's
    // old frame is the one it replaces (the oldest), or none.
    let slots = this.#samples as Int16Array | Uint8Array
    if (slots instanceof Uint8Array && encodeExact(this.#law as G711Law, frame.samples, slots, i * this.#slot)) {
      this.#exactRun++
    } else {
      if (slots instanceof Uint8Array) {
        this.#exactRun = 0
        this.#relayout(this.#slot, this.#slots, false)
        slots = this.#samples as Int16Array
      } else {
        this.#exactRun = this.#exact(frame.samples) ? this.#exactRun + 1 : 0
      }
      slots.set(frame.samples, (this.#count % this.#slots) * this.#slot)
    }
    const at = this.#count % this.#slots
    this.#lengths[at] = n
    this.#times[at * 3] = frame.seq
    this.#times[at * 3 + 1] = frame.mediaMs
    this.#times[at * 3 + 2] = frame.receivedAt
    this.#count++
    // Samples while a frame held is not exact; codes again once every frame held is.
    if (!(this.#samples instanceof Uint8Array) && this.#exactRun >= this.length) this.#relayout(this.#slot, this.#slots, true)
  }

  /** The frames held, oldest first, as fresh frames (their samples are copies: keep them). */
  frames (): InboundFrame[] {
    const out: InboundFrame[] = []
    const samples = this.#samples
    if (samples === undefined) return out
    for (let k = this.#count - this.length; k < this.#count; k++) {
      const i = k % this.#slots
      const at = i * this.#slot
      out.push(inboundFrame(this.#read(samples, at, this.#lengths[i] as number), this.#rate, this.#times[i * 3] as number, this.#times[i * 3 + 1] as number, this.#times[i * 3 + 2] as number, undefined))
    }
    return out
  }

  /** A copy of `length` samples of the slots from `at`, decoded when they are codes. */
  #read (slots: Int16Array | Uint8Array, at: number, length: number): Int16Array {
    if (!(slots instanceof Uint8Array)) return slots.slice(at, at + length)
    const values = (this.#law as G711Law).values
    const out = new Int16Array(length)
    for (let k = 0; k < length; k++) out[k] = values[slots[at + k] as number] as number
    return out
  }

  /** Every sample of the frame is a value of the line's law (found on the first frame exact in one). */
  #exact (samples: Int16Array): boolean {
    const law = this.#law
    if (law !== undefined) return isExact(law, samples)
    this.#law = exactLaw(samples)
    return this.#law !== undefined
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
    if (this.#samples !== undefined) this.#relayout(this.#slot, this.#quietFrames, this.#samples instanceof Uint8Array)
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
      if (this.#slots < this.#capacity && this.#samples !== undefined) this.#relayout(this.#slot, this.#capacity, this.#samples instanceof Uint8Array)
      else this.#slots = this.#capacity
      return
    }
    this.#sinceLoud++
    if (this.#sinceLoud >= this.#holdFrames && this.#slots > this.#quietFrames) {
      if (this.#samples !== undefined) this.#relayout(this.#slot, this.#quietFrames, this.#samples instanceof Uint8Array)
      else this.#slots = this.#quietFrames
    }
  }

  /**
   * A new samples array of `slots` slots of `slot` samples, holding the newest frames held, in
   * order from slot 0: codes if `coded` (only when every frame kept is exact), else 16-bit samples.
   */
  #relayout (slot: number, slots: number, coded: boolean): void {
    const old = this.#samples
    const oldSlot = this.#slot
    const oldSlots = this.#slots
    const kept = Math.min(this.length, slots)
    const first = this.#count - kept
    const lengths = this.#lengths
    const times = this.#times
    this.#slot = slot
    this.#slots = slots
    const samples = this.#samples = coded ? new Uint8Array(slot * slots) : new Int16Array(slot * slots)
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
      copySlot(old, i * oldSlot, samples, j * slot, len, this.#law)
      this.#lengths[j] = len
      this.#times[j * 3] = times[i * 3] as number
      this.#times[j * 3 + 1] = times[i * 3 + 1] as number
      this.#times[j * 3 + 2] = times[i * 3 + 2] as number
    }
  }
}

/** `length` samples from one slots array to another, each holding codes of `law` or 16-bit samples. */
function copySlot (from: Int16Array | Uint8Array, at: number, to: Int16Array | Uint8Array, into: number, length: number, law: G711Law | undefined): void {
  const fromCodes = from instanceof Uint8Array
  if (fromCodes === to instanceof Uint8Array) {
    to.set(from.subarray(at, at + length), into)
    return
  }
  const { values, codes } = law as G711Law
  // Only frames exact in the law are ever coded (push): every code looked up here exists.
  if (fromCodes) for (let k = 0; k < length; k++) to[into + k] = values[from[at + k] as number] as number
  else for (let k = 0; k < length; k++) to[into + k] = (codes[(from[at + k] as number) & 0xffff] as number) - 1
}
