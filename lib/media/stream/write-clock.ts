import { FRAME_MS } from './frame.ts'

/**
 * FreeSWITCH's RTP write timer for one call, as seen from our side: where its 20 ms ticks fall
 * and whether a frame we send now is written at once or waits for the next tick.
 *
 * Why we can see it. The unicast thread writes each datagram of ours through
 * switch_core_session_write_frame -> switch_rtp_write_frame -> rtp_common_write ->
 * get_next_write_ts, which calls switch_core_timer_next(&rtp_session->write_timer)
 * (src/switch_rtp.c). That timer is created right after the read timer, same name and interval
 * (switch_rtp_create, switch_rtp_change_interval: `timer` then `write_timer`). The park loop
 * that sends us the caller's frames (switch_ivr.c switch_ivr_park) returns from each read on the
 * read timer's tick (switch_rtp.c rtp_common_read: switch_core_timer_next(&rtp_session->timer),
 * also before a CNG frame, the 0xFF fill we get while the caller's RTP pauses). With Linux's
 * default soft timer each timer is a timerfd armed at init to fire 100 µs later and every 20 ms
 * after (switch_time.c _timerfd_init, timerfd_start_interval): the write ticks trail the read
 * ticks by a fraction of a millisecond. Without timerfd both run on the shared TIMER_MATRIX tick
 * (timer_init, timer_next): the same phase. Either way the caller's frames reach us just after
 * the write timer ticks, so the earliest of their arrival phases is the tick.
 *
 * The model of what a write does is switch_time.c timer_next (the matrix timer), the stricter of
 * the two: the reference steps one tick per write and the write waits until the tick reaches
 * it; after two or more ticks with no write it is synced to the current tick first, so that
 * write waits for the next one. Linux's timerfd path (_timerfd_next: a read() that returns at
 * once when an expiry is pending) never waits longer for the same sends
 * (test/simulator/write-timer.spec.ts), so pacing that keeps this model happy is right on both.
 * Told the switch runs timerfd (media.stream.writeTimer), the endpoint needs none of it and makes
 * no WriteClock.
 */

/** Arrival phases kept: 32 frames, 0.64 s of the caller's stream. */
const WINDOW = 32
/** The phase is trusted once this many frames came in. */
const MIN_FRAMES = 8
/** Re-estimated every this many frames: a histogram of 32 phases per call per 160 ms. */
const EVERY = 8
/**
 * A frame sent less than this before a tick may be read by FreeSWITCH after it (its thread, or
 * the simulator sharing our event loop, gets to it late): which tick it takes is not known.
 */
const BEFORE_TICK_MS = 4
/** Nor right after a tick: the estimate may be a little early, and timerfd's write tick trails the read tick by ~0.1 ms. */
const AFTER_TICK_MS = 1

/**
 * Width (ms) of the cluster the ticks are read from. The frames leave on the tick and reach us
 * late by our event loop's delay: mostly a little, sometimes most of a frame (which on a 20 ms
 * circle looks early). A frame the park loop sent off its tick (switch_rtp.c rtp_common_read
 * skips the timer on a "hot" socket) can land anywhere. So the estimate starts from the densest
 * 3 ms of the circle and walks back from it through the 1 ms bins that saw arrivals: the earliest
 * arrival of that run is the tick. Stray frames beyond an empty bin do not move it.
 */
const CLUSTER_MS = 3
/**
 * A gap in the caller's frames longer than this many frames is taken for a stall of FreeSWITCH.
 * Its park loop sends one frame per read tick, the 0xFF fill included while the caller's RTP
 * pauses (switch_ivr.c switch_ivr_park), so a gap means its threads did not run, and the unicast
 * thread that writes our frames most likely stalled with them (a loaded switch; in the lab, a
 * SIGSTOP): what we sent meanwhile waits in its socket (takeStalled). A late wake-up of our own
 * event loop looks the same; then our sends were late too and the switch had free ticks, so
 * taking it for a stall costs a few silence packets, nothing heard.
 */
const STALL_GAP_FRAMES = 2
/** The most lag a gap is taken to leave (ms): the periodic free ticks drain any rest (call-pacer.ts). */
const MAX_STALL_MS = 1000

export class WriteClock {
  readonly #frameMs: number
  /** A time (scheduler clock) the phases below are measured from. */
  #ref: number | undefined
  /** Arrival phases in [0, frameMs) after `#ref`. */
  readonly #phases = new Float64Array(WINDOW)
  readonly #bins: Int32Array
  #count = 0
  /** A write tick (scheduler clock), once known. */
  #tick: number | undefined
  /** The write timer's reference after our last frame: the index of the tick it was due at. */
  #reference = Number.NEGATIVE_INFINITY
  /** When the caller's last frame arrived. */
  #lastAt = Number.POSITIVE_INFINITY
  /** Lag suspected from gaps in the caller's frames, not yet taken (ms). */
  #stalled = 0

  constructor (frameMs = FRAME_MS) {
    this.#frameMs = frameMs
    this.#bins = new Int32Array(Math.ceil(frameMs))
  }

  /** True once enough of the caller's frames came in to place the ticks. */
  get known (): boolean { return this.#tick !== undefined }

  /** A caller frame arrived at `at` (the scheduler clock). */
  observe (at: number): void {
    // A stall of S ms shows here as a gap of about S + 20 ms (the frames the read loop makes up
    // after it come in a burst, or not at all): our frames sent during it wait, S ms of lag.
    const gap = at - this.#lastAt
    this.#lastAt = at
    if (gap > STALL_GAP_FRAMES * this.#frameMs) this.#stalled = Math.min(MAX_STALL_MS, this.#stalled + gap - this.#frameMs)
    const ref = this.#ref ??= at
    let phase = (at - ref) % this.#frameMs
    if (phase < 0) phase += this.#frameMs
    this.#phases[this.#count % WINDOW] = phase
    this.#count++
    if (this.#count >= MIN_FRAMES && this.#count % EVERY === 0) this.#estimate()
  }

  #estimate (): void {
    const n = Math.min(this.#count, WINDOW)
    const bins = this.#bins
    const size = bins.length
    bins.fill(0)
    for (let i = 0; i < n; i++) (bins[Math.floor(this.#phases[i] as number) % size] as number)++
    // The densest CLUSTER_MS of the circle.
    let best = 0
    let bestCount = -1
    for (let b = 0; b < size; b++) {
      let c = 0
      for (let j = 0; j < CLUSTER_MS; j++) c += bins[(b + j) % size] as number
      if (c > bestCount) { bestCount = c; best = b }
    }
    // Walk back from it while the bin before saw arrivals (never all the way round: then the
    // arrivals are spread over the whole frame and say nothing; keep what was known).
    let start = best
    let steps = 0
    while ((bins[(start - 1 + size) % size] as number) > 0 && steps < size - CLUSTER_MS) { start = (start - 1 + size) % size; steps++ }
    if (steps === size - CLUSTER_MS) return
    // The run's earliest arrival, measured from its start (the run may wrap past the frame).
    const span = steps + CLUSTER_MS
    let earliest = Number.POSITIVE_INFINITY
    for (let i = 0; i < n; i++) {
      let off = (this.#phases[i] as number) - start
      if (off < 0) off += this.#frameMs
      if (off < span && off < earliest) earliest = off
    }
    const candidate = (this.#ref as number) + start + earliest
    // The tick nearest the last estimate: tick indexes (the model's reference) stay valid.
    const last = this.#tick
    this.#tick = last === undefined ? candidate : candidate + this.#frameMs * Math.round((last - candidate) / this.#frameMs)
  }

  /**
   * The lag (ms) a stall of FreeSWITCH may have left since the last call, judged from gaps in
   * the caller's frames; taking it resets it. The unicast thread writes one of our datagrams per
   * write tick (switch_ivr.c unicast_thread_run) and a timer read after a stall takes every
   * expiry due at once (switch_time.c _timerfd_next), so what queued in its socket during the
   * stall stays queued while we send a frame per tick: only ticks with nothing from us drain it.
   */
  takeStalled (): number {
    const ms = this.#stalled
    this.#stalled = 0
    return ms
  }

  /** Index of the write tick at or before `at` (undefined while unknown). */
  interval (at: number): number | undefined {
    if (this.#tick === undefined) return undefined
    return Math.floor((at - this.#tick) / this.#frameMs)
  }

  /** When tick `index` falls (the scheduler clock). */
  tickAt (index: number): number {
    return (this.#tick as number) + index * this.#frameMs
  }

  /**
   * What a frame sent at `at` would meet: 'now' (written at once: its tick is free), 'waits'
   * (the tick is taken by a frame of ours, it goes out at the next one) or 'resync' (no write
   * for two ticks or more: the timer is re-synced and this frame waits for the next tick too).
   */
  wouldMeet (at: number): 'now' | 'waits' | 'resync' | undefined {
    const tick = this.interval(at)
    if (tick === undefined) return undefined
    if (this.#reference < tick - 1) return 'resync'
    return this.#reference + 1 <= tick ? 'now' : 'waits'
  }

  /**
   * Undefined when a frame sent at `at` falls clearly inside one tick; otherwise (just before or
   * after a tick, where the model could count it in the wrong one and stay wrong) the moment
   * just after that tick, when it can go.
   */
  unsure (at: number): number | undefined {
    const tick = this.interval(at + BEFORE_TICK_MS)
    if (tick === undefined) return undefined
    const next = this.tickAt(tick)
    return at > next - BEFORE_TICK_MS && at < next + AFTER_TICK_MS ? next + AFTER_TICK_MS : undefined
  }

  /** Our frames so far are not known to the model: the next one is taken as a resync. */
  forget (): void {
    this.#reference = Number.NEGATIVE_INFINITY
  }

  /**
   * We sent a frame at `at`: the write timer's reference moves as switch_time.c timer_next moves
   * it. Returns the ticks before this one that no frame of ours held (free ticks: each drains
   * 20 ms of any lag at the switch), undefined while the ticks are unknown.
   */
  wrote (at: number): number | undefined {
    const tick = this.interval(at)
    if (tick === undefined) return undefined
    const free = tick - 1 - this.#reference
    if (free > 0) this.#reference = tick
    this.#reference++
    return free > 0 ? free : 0
  }
}
