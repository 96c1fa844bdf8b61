import { FrameClassifier, type FrameVerdict } from './classify.ts'
import type { SileroStream } from './silero-runner.ts'
import type { VadEvent, VadOptions, VoiceDetector } from './vad.ts'

/**
 * Speech detection by Silero VAD, behind the classic detector's frame classes.
 *
 * Every 20 ms frame is first classed by the classic detector (classify.ts): that costs a few
 * microseconds and decides whether the model is asked at all.
 * - Gate: the model is fed only while the call is *active*: from a window holding a loud,
 *   non-tone frame (voiced or unvoiced: above the noise floor by `snrDb`) until `holdMs` after
 *   the last such window, and throughout speech. Quiet windows outside that are judged
 *   non-speech without the model, and the call gives its batch slot back.
 * - Tone veto: a window mostly made of tone frames (ringback, busy, DTMF) is never speech; it
 *   never activates the call, and inside an active stretch it is fed (so the model's state
 *   stays continuous) but its probability is taken as 0.
 * - Quiet windows inside an active stretch are fed too, and also taken as 0: the model's
 *   probability lingers for ~150 ms after a voice stops, which would delay every end of turn
 *   by as much (measured on the labelled set in test/media-stream/vad-corpus.ts).
 *
 * Frames are pushed one at a time and events come back synchronously, as from the classic
 * detector; the model's probability for a window comes from the shared runner's next tick
 * (silero-runner.ts), so a decision lands one or two frames after the window that made it.
 * `detectedAt` says when the event was returned; `at` and `endAt` are the audio's own times.
 *
 * Speech starts after `minSpeechMs` of windows at or above `threshold` with no gap longer than
 * `maxGapMs`; the start reported is the first such window. It ends after `endSilenceMs`
 * below `negThreshold` (hysteresis, as upstream's VADIterator does).
 */

export interface SileroVadOptions extends VadOptions {
  /** Probability at which a window counts as speech (default 0.5). */
  readonly threshold?: number
  /** Probability below which a window counts as silence during speech (default threshold - 0.15). */
  readonly negThreshold?: number
  /** How long the model keeps being fed after the last loud window (default 300 ms). */
  readonly holdMs?: number
  /** Aborting it closes the detector (frees its batch slot); close() removes the listener. */
  readonly signal?: AbortSignal | undefined
}

interface WindowRecord {
  readonly start: number
  readonly end: number
  readonly veto: boolean
  /** No loud frame in it: below the noise floor + snrDb throughout. */
  readonly quiet: boolean
  /** The classic detector heard voicing in it: the verdict used if the model gives none. */
  readonly voiced: boolean
  /** Waiting for the model's probability. */
  waiting: boolean
  /** Sent to the model. */
  readonly judged: boolean
  prob: number
}

/** 1 / 32768, exactly (a power of two): a 16-bit sample to [-1, 1). */
const SCALE = 2 ** -15

/** A window scaled for the model, per width: shared (filled, then copied by submit(), within one call). */
const scratches = new Map<number, Float32Array>()
function scratchFor (width: number): Float32Array {
  let s = scratches.get(width)
  if (s === undefined) {
    s = new Float32Array(width)
    scratches.set(width, s)
  }
  return s
}

export class SileroVad implements VoiceDetector {
  readonly #stream: SileroStream
  readonly #classifier: FrameClassifier
  readonly #rate: number
  readonly #window: number
  readonly #context: number
  readonly #windowMs: number
  readonly #endSilenceMs: number
  readonly #minSpeechMs: number
  readonly #maxGapMs: number
  readonly #threshold: number
  readonly #negThreshold: number
  readonly #holdMs: number
  // The window's samples as they came (16-bit), after `context` of the previous window's tail, and
  // what of the last frame is past the window (the next window's first samples): a frame is one
  // copy (a memcpy), and only a window the model judges is scaled to [-1, 1] (#submit). A quiet
  // call's windows never are: scaling every frame cost ~0.4 µs a frame, as much as the gate.
  readonly #raw: Int16Array
  /** Samples in #raw after the context: the window's so far, and any of the next's. */
  #held = 0
  /** Samples of the window accounted so far (its frame classes). */
  #fill = 0
  #winStart = 0
  #loud = 0
  #tone = 0
  #voiced = 0
  #activeUntil = -Infinity
  readonly #records: WindowRecord[] = []
  #waiting = 0
  readonly #events: VadEvent[] = []
  #speaking = false
  #candidateAt: number | undefined
  #speechMs = 0
  #gapMs = 0
  #startAt = 0
  #lastActiveEnd = 0
  #voicedMs = 0
  #last: FrameVerdict | undefined
  #closed = false
  readonly #signal: AbortSignal | undefined
  readonly #onAbort = (): void => { this.close() }

  constructor (stream: SileroStream, options: SileroVadOptions) {
    if (stream.rate !== options.rate) throw new RangeError(`stream at ${stream.rate} Hz for a detector at ${options.rate} Hz`)
    this.#stream = stream
    this.#classifier = new FrameClassifier(options)
    this.#rate = options.rate
    this.#window = stream.shape.window
    this.#context = stream.shape.context
    this.#windowMs = this.#window * 1000 / this.#rate
    this.#raw = new Int16Array(this.#context + this.#window + this.#rate / 50)
    this.#endSilenceMs = options.endSilenceMs ?? 500
    this.#minSpeechMs = options.minSpeechMs ?? 200
    this.#maxGapMs = options.maxGapMs ?? 200
    this.#threshold = options.threshold ?? 0.5
    this.#negThreshold = options.negThreshold ?? Math.max(0.01, this.#threshold - 0.15)
    this.#holdMs = options.holdMs ?? 300
    this.#signal = options.signal
    if (this.#signal?.aborted === true) this.close()
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  get speaking (): boolean { return this.#speaking }
  get speechEndSoFar (): number | undefined { return this.#speaking ? this.#lastActiveEnd : undefined }

  /**
   * How late the model's verdicts were used: from a window's last sample to the end of the
   * frame whose push consumed its probability (windows judged by the gate alone excluded).
   */
  readonly lag = { windows: 0, totalMs: 0, maxMs: 0 }

  get lastFrame (): FrameVerdict | undefined { return this.#last }

  /** Windows the model has not judged yet (0 when the call is quiet: no slot, no inference). */
  get waiting (): number { return this.#stream.outstanding }

  push (samples: Int16Array, at: number): VadEvent | undefined {
    const verdict = this.#classifier.classify(samples)
    this.#last = verdict
    if (!this.#closed) {
      const frameLen = this.#rate / 50
      const cls = verdict.class
      this.#append(samples, frameLen)
      let i = 0
      while (i < frameLen) {
        if (this.#fill === 0) this.#winStart = at + i * 1000 / this.#rate
        const n = Math.min(frameLen - i, this.#window - this.#fill)
        if (cls === 'tone') this.#tone += n
        else if (cls !== 'quiet') this.#loud += n
        if (cls === 'voiced') this.#voiced += n
        this.#fill += n
        i += n
        if (this.#fill === this.#window) this.#completeWindow()
      }
    }
    // A quiet, idle call has nothing in flight and nothing to decide: push ends here.
    if (this.#waiting > 0) this.#collect()
    if (this.#records.length > 0) this.#decide(at + 20)
    return this.#events.length > 0 ? this.#events.shift() : undefined
  }

  /** Give the batch slot back; later frames are judged by the classic gate alone. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#signal?.removeEventListener('abort', this.#onAbort)
    this.#stream.close()
  }

  /** The frame's first `frameLen` samples after those held (a shorter frame padded with zeros). */
  #append (samples: Int16Array, frameLen: number): void {
    const at = this.#context + this.#held
    if (samples.length === frameLen) {
      this.#raw.set(samples, at)
    } else {
      const have = Math.min(samples.length, frameLen)
      this.#raw.set(have === samples.length ? samples : samples.subarray(0, have), at)
      this.#raw.fill(0, at + have, at + frameLen)
    }
    this.#held += frameLen
  }

  /** The window (context and samples) to the model, scaled to [-1, 1) as it takes them. */
  #submit (): void {
    const width = this.#context + this.#window
    const scaled = scratchFor(width)
    const raw = this.#raw
    // A product by 2^-15: the float a division by 32768 gives (both exact for 16-bit samples).
    for (let k = 0; k < width; k++) scaled[k] = (raw[k] as number) * SCALE
    this.#stream.submit(scaled)
  }

  #completeWindow (): void {
    const start = this.#winStart
    const end = start + this.#windowMs
    const veto = this.#tone * 2 >= this.#window
    if (this.#loud > 0 && !veto) this.#activeUntil = end + this.#holdMs
    const judged = this.#speaking || end <= this.#activeUntil || this.#candidateAt !== undefined
    if (judged) {
      this.#submit()
      this.#waiting++
    } else {
      // Quiet and idle: judged without the model, and the slot goes back (its state is reset
      // once the windows already submitted are judged).
      this.#stream.release()
    }
    // An idle window with nothing before it to wait for changes nothing: no record at all.
    if (judged || this.#records.length > 0) {
      this.#records.push({ start, end, veto, quiet: this.#loud === 0, voiced: this.#voiced > 0, waiting: judged, judged, prob: 0 })
    }
    // The next window's context is this window's tail, followed by what of the frame is past it.
    this.#raw.copyWithin(0, this.#window, this.#context + this.#held)
    this.#held -= this.#window
    this.#fill = 0
    this.#loud = 0
    this.#tone = 0
    this.#voiced = 0
  }

  #collect (): void {
    const probs = this.#stream.takeResults()
    let j = 0
    for (const r of this.#records) {
      if (!r.waiting) continue
      if (j < probs.length) {
        r.prob = probs[j++] as number
      } else if (this.#stream.closed) {
        r.prob = NaN
      } else {
        break
      }
      r.waiting = false
      this.#waiting--
    }
  }

  #decide (now: number): void {
    while (this.#records.length > 0 && !(this.#records[0] as WindowRecord).waiting) {
      const r = this.#records.shift() as WindowRecord
      if (r.judged) {
        const lag = now - r.end
        this.lag.windows++
        this.lag.totalMs += lag
        if (lag > this.lag.maxMs) this.lag.maxMs = lag
      }
      const p = r.veto || r.quiet ? 0 : Number.isNaN(r.prob) ? (r.voiced ? 1 : 0) : r.prob
      const event = this.#speaking ? this.#whileSpeaking(r, p, now) : this.#whileQuiet(r, p, now)
      if (event !== undefined) this.#events.push(event)
    }
  }

  #whileQuiet (r: WindowRecord, p: number, now: number): VadEvent | undefined {
    if (p < this.#threshold) {
      this.#gapMs += this.#windowMs
      if (this.#gapMs > this.#maxGapMs) {
        this.#candidateAt = undefined
        this.#speechMs = 0
      }
      return undefined
    }
    this.#candidateAt ??= r.start
    this.#speechMs += this.#windowMs
    this.#gapMs = 0
    if (this.#speechMs < this.#minSpeechMs) return undefined
    this.#speaking = true
    this.#startAt = this.#candidateAt
    this.#voicedMs = this.#speechMs
    this.#lastActiveEnd = r.end
    this.#candidateAt = undefined
    this.#speechMs = 0
    return { type: 'speech-start', at: this.#startAt, detectedAt: now }
  }

  #whileSpeaking (r: WindowRecord, p: number, now: number): VadEvent | undefined {
    if (p >= this.#threshold) this.#voicedMs += this.#windowMs
    if (p >= this.#negThreshold) {
      this.#lastActiveEnd = r.end
      return undefined
    }
    if (r.end - this.#lastActiveEnd < this.#endSilenceMs) return undefined
    this.#speaking = false
    this.#gapMs = 0
    return { type: 'speech-end', startAt: this.#startAt, endAt: this.#lastActiveEnd, detectedAt: now, voicedMs: Math.round(this.#voicedMs) }
  }
}
