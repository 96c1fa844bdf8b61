import { STATE_SIZE, sileroShape, type SileroModel, type SileroShape } from './silero-model.ts'

/**
 * One Silero inference per frame tick for every call that has a window waiting.
 *
 * Each call's detector owns a `SileroStream`: it submits windows (context + 256 samples at
 * 8 kHz) as its audio fills them, and reads back probabilities in the same order. Every
 * `tickMs` (20 ms, the frame clock) the runner takes the oldest waiting window of each stream,
 * stacks them into one input [N, width] with their states as [2, N, 128], runs the model once
 * per sample rate present, and scatters probabilities and states back. A call's state lives in
 * its stream between ticks, so batching never mixes calls up.
 *
 * A stream holds a slot (a row in the batch) only while its detector keeps it active, i.e.
 * while the caller makes noise that is not a tone, and for a short hold after it (see
 * silero-vad.ts). Idle and silent calls hold no slot and cost no inference. The tick timer
 * runs only while some stream holds a slot, so an idle server has no timer at all.
 *
 * onnxruntime-node runs a session on the calling thread: a tick's inference is time the event
 * loop spends (unless the model runs in a worker thread: silero-model.ts); bench/vad.ts
 * measures it per row. A tick that comes while the previous inference is still running is
 * counted and run as soon as that one ends; a stream whose backlog
 * passes `maxBacklog` drops its oldest window, which its detector then judges without the
 * model. A failed inference is reported once through `onError` and its windows likewise.
 */

/** A frame clock to tick on (lib/media/stream's FrameScheduler fits): one wake-up for media and VAD. */
export interface Ticker {
  /** Subscribe; the returned function unsubscribes. */
  add (subscriber: { onTick (frames: number, now: number): void }): () => void
}

export interface SileroRunnerOptions {
  readonly model: SileroModel
  /** The batching period (default 20 ms, one frame); with a `ticker`, the ticker's period. */
  readonly tickMs?: number
  /**
   * Tick on this clock (the media's shared frame scheduler) instead of a timer of our own, so
   * the inference runs right after the frame tick's media work, and no second clock wakes up.
   */
  readonly ticker?: Ticker | undefined
  /** false: no clock at all; the owner calls tick() (tests, benchmarks). Default true. */
  readonly autoTick?: boolean
  /** A stream with no window submitted for this long loses its slot (an abandoned detector). */
  readonly idleEvictMs?: number
  /** Windows a stream may have waiting before the oldest is dropped (default 8). */
  readonly maxBacklog?: number
  /** Called once for the first failed inference (later failures are only counted). */
  readonly onError?: (err: unknown) => void
}

export interface SileroRunnerStats {
  /** Model calls made (one per tick per rate with work). */
  inferences: number
  /** Windows judged by the model (sum of batch sizes). */
  rows: number
  maxBatch: number
  lastBatch: number
  /** Ticks that found the previous inference still running. */
  busyTicks: number
  /** Windows dropped from a backlog, or lost to a failed inference. */
  dropped: number
  errors: number
}

interface Pending {
  readonly samples: Float32Array
}

export class SileroStream {
  readonly rate: number
  readonly shape: SileroShape
  /** This stream's recurrent state, [2, 128] (row n of the batch's [2, N, 128]). */
  readonly state = new Float32Array(2 * STATE_SIZE)
  readonly #runner: SileroRunner
  readonly #pending: Pending[] = []
  readonly #results: number[] = []
  #inFlight = false
  #releaseWhenDrained = false
  #lastSubmitTick = 0
  #closed = false

  constructor (runner: SileroRunner, rate: number) {
    this.#runner = runner
    this.rate = rate
    this.shape = sileroShape(rate)
  }

  /** Windows submitted and not yet judged (waiting or in flight). */
  get outstanding (): number { return this.#pending.length + (this.#inFlight ? 1 : 0) }

  get closed (): boolean { return this.#closed }

  /**
   * Queue one window, `context + window` samples scaled to [-1, 1] (copied). Takes a slot if
   * the stream had none. Results come back, in order, from takeResults(): a probability, or
   * NaN for a window the model did not judge.
   */
  submit (samples: Float32Array): void {
    if (this.#closed) {
      this.#results.push(NaN)
      return
    }
    this.#releaseWhenDrained = false
    this.#pending.push({ samples: samples.slice() })
    const max = this.#runner.maxBacklog
    while (this.#pending.length > max) {
      this.#pending.shift()
      this.#results.push(NaN)
      this.#runner.stats.dropped++
    }
    this.#lastSubmitTick = this.#runner.ticks
    this.#runner.join(this)
  }

  /** Probabilities delivered since the last call, oldest first. */
  takeResults (): number[] {
    return this.#results.splice(0, this.#results.length)
  }

  /**
   * Give the slot back once the windows already submitted are judged, and start the next
   * submission from a fresh state (the caller went quiet: the next sound is a new stretch).
   */
  release (): void {
    if (!this.#runner.holds(this)) return
    this.#releaseWhenDrained = true
    this.#maybeRelease()
  }

  /** Leave for good: the slot is freed now, results of windows in flight are discarded. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#pending.length = 0
    this.#runner.leave(this)
  }

  // ---- used by the runner ----

  /** The oldest waiting window, moved in flight. */
  take (): Pending | undefined {
    if (this.#inFlight) return undefined
    const next = this.#pending.shift()
    if (next !== undefined) this.#inFlight = true
    return next
  }

  deliver (prob: number): void {
    this.#inFlight = false
    if (this.#closed) return
    this.#results.push(prob)
    this.#maybeRelease()
  }

  idleSince (tick: number): number { return tick - this.#lastSubmitTick }

  #maybeRelease (): void {
    if (!this.#releaseWhenDrained || this.outstanding > 0) return
    this.#releaseWhenDrained = false
    this.state.fill(0)
    this.#runner.leave(this)
  }
}

export class SileroRunner {
  readonly stats: SileroRunnerStats = { inferences: 0, rows: 0, maxBatch: 0, lastBatch: 0, busyTicks: 0, dropped: 0, errors: 0 }
  readonly maxBacklog: number
  readonly #model: SileroModel
  readonly #tickMs: number
  readonly #autoTick: boolean
  readonly #ticker: Ticker | undefined
  #unsubscribe: (() => void) | undefined
  readonly #idleEvictTicks: number
  readonly #onError: ((err: unknown) => void) | undefined
  readonly #active = new Set<SileroStream>()
  // Batch buffers, grown as needed and reused: a tick allocates nothing but the model's outputs.
  #input = new Float32Array(0)
  #state = new Float32Array(0)
  #timer: NodeJS.Timeout | undefined
  #running = false
  #missed = false
  #ticks = 0
  #closed = false
  #reported = false

  constructor (options: SileroRunnerOptions) {
    this.#model = options.model
    this.#tickMs = options.tickMs ?? 20
    this.#autoTick = options.autoTick ?? true
    this.#ticker = options.ticker
    this.#idleEvictTicks = Math.max(1, Math.round((options.idleEvictMs ?? 1000) / this.#tickMs))
    this.maxBacklog = options.maxBacklog ?? 8
    this.#onError = options.onError
  }

  /** A stream for one detector; it holds no slot until it submits a window. */
  open (rate: number): SileroStream {
    return new SileroStream(this, rate)
  }

  /** Streams holding a slot. */
  get slots (): number { return this.#active.size }

  /** Ticks run so far (the runner's clock, in frames). */
  get ticks (): number { return this.#ticks }

  /** Whether the runner's clock runs (it must not while no stream holds a slot). */
  get timerActive (): boolean { return this.#timer !== undefined || this.#unsubscribe !== undefined }

  holds (stream: SileroStream): boolean { return this.#active.has(stream) }

  join (stream: SileroStream): void {
    if (this.#closed || this.#active.has(stream)) return
    this.#active.add(stream)
    if (!this.#autoTick || this.timerActive) return
    if (this.#ticker !== undefined) {
      this.#unsubscribe = this.#ticker.add({ onTick: () => { void this.tick() } })
    } else {
      this.#timer = setInterval(() => { void this.tick() }, this.#tickMs)
      // Media sockets keep a serving process alive; the VAD's clock must not keep a finished one.
      this.#timer.unref()
    }
  }

  leave (stream: SileroStream): void {
    this.#active.delete(stream)
    if (this.#active.size === 0) this.#stopClock()
  }

  #stopClock (): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#unsubscribe?.()
    this.#unsubscribe = undefined
  }

  /**
   * One frame tick: one model call per sample rate with waiting windows, each stream's oldest
   * window as one row. Resolves when the probabilities are delivered.
   */
  async tick (): Promise<void> {
    if (this.#closed) return
    if (this.#running) {
      // One catch-up run as soon as this one ends, rather than waiting a whole tick more.
      this.stats.busyTicks++
      this.#missed = true
      return
    }
    this.#ticks++
    this.#running = true
    try {
      const byRate = new Map<number, Array<{ stream: SileroStream, window: Pending }>>()
      for (const stream of this.#active) {
        const window = stream.take()
        if (window === undefined) {
          if (stream.outstanding === 0 && stream.idleSince(this.#ticks) > this.#idleEvictTicks) stream.release()
          continue
        }
        let rows = byRate.get(stream.rate)
        if (rows === undefined) byRate.set(stream.rate, rows = [])
        rows.push({ stream, window })
      }
      for (const [rate, rows] of byRate) await this.#infer(rate, rows)
    } finally {
      this.#running = false
    }
    if (this.#missed) {
      this.#missed = false
      await this.tick()
    }
  }

  async #infer (rate: number, rows: Array<{ stream: SileroStream, window: Pending }>): Promise<void> {
    const n = rows.length
    const { window, context } = sileroShape(rate)
    const width = window + context
    if (this.#input.length < n * width) this.#input = new Float32Array(n * width * 2)
    if (this.#state.length < n * 2 * STATE_SIZE) this.#state = new Float32Array(n * 2 * STATE_SIZE * 2)
    const input = this.#input.subarray(0, n * width)
    const state = this.#state.subarray(0, n * 2 * STATE_SIZE)
    for (let i = 0; i < n; i++) {
      const { stream, window: w } = rows[i] as { stream: SileroStream, window: Pending }
      input.set(w.samples, i * width)
      // [2, N, 128]: layer k of row i starts at k*N*128 + i*128.
      state.set(stream.state.subarray(0, STATE_SIZE), i * STATE_SIZE)
      state.set(stream.state.subarray(STATE_SIZE), n * STATE_SIZE + i * STATE_SIZE)
    }
    this.stats.inferences++
    this.stats.rows += n
    this.stats.lastBatch = n
    if (n > this.stats.maxBatch) this.stats.maxBatch = n
    let out: { probs: Float32Array, state: Float32Array }
    try {
      out = await this.#model.run(input, n, width, state, rate)
    } catch (err) {
      this.stats.errors++
      this.stats.dropped += n
      if (!this.#reported) {
        this.#reported = true
        this.#onError?.(err)
      }
      for (const { stream } of rows) stream.deliver(NaN)
      return
    }
    for (let i = 0; i < n; i++) {
      const { stream } = rows[i] as { stream: SileroStream, window: Pending }
      stream.state.set(out.state.subarray(i * STATE_SIZE, (i + 1) * STATE_SIZE), 0)
      stream.state.set(out.state.subarray(n * STATE_SIZE + i * STATE_SIZE, n * STATE_SIZE + (i + 1) * STATE_SIZE), STATE_SIZE)
      stream.deliver(out.probs[i] as number)
    }
  }

  /** Stop ticking and free the model. Streams still open judge their windows without it. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stopClock()
    for (const stream of [...this.#active]) stream.close()
    await this.#model.close()
  }
}
