import type { OutboundQueue } from './outbound.ts'
import type { FrameScheduler, TickSubscriber } from './scheduler.ts'
import type { WriteClock } from './write-clock.ts'
import { GridMembership } from './grid-membership.ts'

/**
 * When one call's frames go to the socket. Idle (nothing queued), the call sends one frame of
 * silence per FreeSWITCH write tick, just in time: no frame is kept ahead at FreeSWITCH, whose
 * unicast thread writes each datagram toward the caller as it arrives and nothing when none is
 * waiting (switch_ivr.c unicast_thread_run). When audio is queued, its first frame and `lead`
 * frames ahead go out at once, and the call paces on a lane of its own anchored at that moment
 * (frame k + lead at anchor + 20k ms): a reply never waits for a shared tick, and pacing stays
 * drift-free from its first frame. Once the queue runs dry, the frames sent ahead play out
 * (nothing sent for `lead` slots) and the call goes back to idle.
 *
 * Where idle silence goes. FreeSWITCH writes each of our frames on its RTP write timer (see
 * write-clock.ts): one frame per 20 ms tick, a second one in the same tick waits for the next.
 * Silence sent early in a tick takes that tick, and a reply whose audio is ready later in it
 * waits up to 20 ms for the next one. So once the write ticks are known (from the caller's
 * frames), idle silence goes out `marginMs` before each tick, and our model of the write timer
 * decides each idle frame: sent when it would be written at once, skipped when a frame of ours
 * already holds that tick (the end of a reply, a late wake-up), so the tick a reply starts in
 * is free and its first frame is written as it arrives. Until the ticks are known the call
 * rides the shared frame grid.
 *
 * Free ticks, to drain a lag. When FreeSWITCH's unicast thread stalls, what we send meanwhile
 * waits in its socket, and it then writes one datagram per write tick (switch_ivr.c
 * unicast_thread_run: one timer wait per datagram; switch_time.c _timerfd_next takes every
 * expiry due at once): while we send a frame on every tick the lag never shrinks, and every reply
 * after it, barge-in included, is late by as much (340 ms, and still 240 ms 10 s later, after a
 * 358 ms SIGSTOP of a real FreeSWITCH; docs/benchmarks.md). Only a tick with nothing of ours
 * gives 20 ms back, and our write model cannot see a lag that began on the switch's side. So a
 * warm idle call leaves out one silence frame after DRAIN_EVERY in a row (a tick on which the
 * switch writes nothing: a 20 ms gap in silence, the next packet marked, as measured), and
 * after a gap in the caller's frames that says the switch stalled (WriteClock.takeStalled) it
 * leaves out as many as the gap was long, as fast as the write model allows. A frame sent after
 * a free tick is a resync for the matrix timer, never left out: a cold call's keep-alive is one.
 *
 * All of the above is for FreeSWITCH's matrix timer. On Linux's default timerfd timer a write
 * after idle ticks goes out at once (switch_time.c _timerfd_next), so the endpoint gives no write
 * clock and no warm window (endpoint-options.ts writeTimer): between replies only the keep-alive
 * goes, on the shared grid, every such tick is free (a stall's lag drains by itself), and a reply
 * starts its lane the moment it is queued.
 */
export interface CallPacerOptions {
  readonly scheduler: FrameScheduler
  readonly queue: OutboundQueue
  /** Frames ahead of real time while speaking (0-2). */
  readonly lead: number
  /** False while FreeSWITCH's address is unknown, the socket is connecting, or the call closed. */
  readonly canSend: () => boolean
  /**
   * Send the queue's next frame (silence when idle or paused), stamped `at`: when it is to leave,
   * now or (a reply's frame served `aheadMs` early) later, which the socket then holds it for.
   */
  readonly send: (at: number) => void
  /**
   * A reply's frames are handed to `send` this long before they are due (default 0: when due).
   * Only for a socket that holds a frame until its moment (udp-mux.ts: a thread sends it), so a
   * late event loop does not move it; the endpoint takes back what is held on a pause or a clear.
   */
  readonly aheadMs?: number | undefined
  /** FreeSWITCH's write timer as seen from the caller's frames (none: the shared grid only). */
  readonly writeClock?: WriteClock | undefined
  /**
   * How long before a write tick idle silence is sent at least (default 6 ms); more while this
   * process's idle wake-ups come late (up to MAX_MARGIN_MS). A lane slot may also be served up to
   * the scheduler's coalescing early.
   */
  readonly marginMs?: number | undefined
  /**
   * With nothing queued, when `canSend()` turns true by itself (no event that kicks): the call
   * leaves the shared grid until then (grid-membership.ts). Undefined: ticked every frame.
   */
  readonly wakeAt?: (() => number) | undefined
}

/** Idle-lane phase error (ms) beyond which it is re-anchored on the write ticks. */
const REANCHOR_MS = 2
/**
 * Idle slots skipped once the ticks are first known (an 80 ms gap in our audio, at the start of
 * the call): the frames sent before are unknown to the model, and after two ticks or more with no
 * write FreeSWITCH's timer is re-synced (switch_time.c timer_next), a state the model knows.
 */
const SETTLE_SLOTS = 4
/**
 * The most the idle margin grows to. An idle frame that comes too close to its tick is skipped
 * (and, the matrix timer re-syncing after the gap, one more after it), so when the loop runs late
 * the frames go earlier instead: a reply then waits for the tick if it is ready in the margin.
 */
const MAX_MARGIN_MS = 14
/**
 * Frames sent with no free tick between them (a second) after which an idle one is left out: it
 * drains 20 ms of a lag we cannot see, and the write model's skip after it a second 20 ms. Right
 * after a reply longer than that, the first idle slot is one. Not more often: on the matrix timer
 * a reply that starts in the tick after a free one waits a tick (its write re-syncs), 2-3 replies
 * in 120 at this rate (test/media-stream/stall-drain.spec.ts); on timerfd never.
 */
const DRAIN_EVERY = 50

export class CallPacer {
  readonly #scheduler: FrameScheduler
  readonly #queue: OutboundQueue
  readonly #lead: number
  readonly #canSend: () => boolean
  readonly #send: (at: number) => void
  readonly #ahead: number
  #clock: WriteClock | undefined
  readonly #minMargin: number
  /** How late idle wake-ups come: up at once with a late one, down slowly (ms). */
  #lateness = 0
  readonly #laneSubscriber: TickSubscriber
  readonly #idleSubscriber: TickSubscriber
  readonly #grid: GridMembership
  /** Closes this call's own lane; set while it speaks (audio queued, or its lead playing out). */
  #closeLane: (() => void) | undefined
  /** Closes the idle lane (silence just before each write tick); set while idle with the ticks known. */
  #closeIdle: (() => void) | undefined
  #idleAnchor = 0
  /** Lane slots passed with nothing queued: the frames sent ahead playing out before idling. */
  #drained = 0
  /** When the first of those slots was due: a refill in time still leaves when they were due. */
  #drainedDue = 0
  #kickPending = false
  #closed = false
  #idleSkipped = 0
  /** The write ticks became known (and the settling gap was started). */
  #synced = false
  #settle = 0
  /** Cancels a kick held until just after a write tick. */
  #cancelDeferred: (() => void) | undefined
  /** When our last frame was sent (scheduler clock). */
  #lastSentAt = Number.NEGATIVE_INFINITY
  /** Frames sent since the last free tick. */
  #sinceFree = 0
  /** Lag still to drain after a suspected stall (ms). */
  #drainMs = 0
  /** Idle frames left out to drain since the last send (already taken off #drainMs). */
  #drainPending = 0
  #drainSkipped = 0

  constructor (options: CallPacerOptions) {
    this.#scheduler = options.scheduler
    this.#queue = options.queue
    this.#lead = options.lead
    this.#canSend = options.canSend
    this.#send = options.send
    this.#ahead = Math.max(0, options.aheadMs ?? 0)
    this.#clock = options.writeClock
    this.#minMargin = options.marginMs ?? 6
    // Methods, not arrow functions: under tsx each named arrow made per call gets a `name` of its
    // own (esbuild's keepNames), a 256-byte property dictionary per function per call.
    const self = this
    this.#laneSubscriber = { onTick (frames, now, dueAt) { self.#onLaneTick(frames, now, dueAt) } }
    this.#idleSubscriber = { onTick (_frames, now) { self.#onIdleTick(now) } }
    this.#grid = new GridMembership(this.#scheduler, { onTick (frames, now) { self.#onTick(frames, now) } }, options.wakeAt)
  }

  /** Packets are not our frames (packet-regroup.ts): no 20 ms write ticks to place them on. */
  sendsRegrouped (): void {
    this.#clock = undefined
  }

  /** Idle frames not sent because a frame of ours already held that write tick. */
  get idleSkipped (): number { return this.#idleSkipped }

  /** Idle frames left out to give the switch a free tick (a lag drains 20 ms on each). */
  get drainSkipped (): number { return this.#drainSkipped }

  /** Stop pacing: leave the grid and close the lanes. Idempotent. */
  close (): void {
    this.#closed = true
    this.#grid.leave()
    this.#endLane()
    this.#endIdle()
    this.#cancelDeferred?.()
    this.#cancelDeferred = undefined
  }

  /** The shared grid: until the write ticks are known, silence just in time; audio waiting starts a lane. */
  #onTick (_frames: number, now: number): void {
    if (this.#closeLane !== undefined || this.#closeIdle !== undefined) return
    if (!this.#canSend()) {
      this.#grid.sleep(now)
      return
    }
    if (!this.#queue.idle) {
      this.#startLane(now)
      return
    }
    // One frame per wake-up even after a late one: a missed idle slot is a packet FreeSWITCH
    // does not write (switch_ivr.c unicast_thread_run writes only what arrives), never a frame
    // queued ahead of the next reply.
    this.#idle(now)
  }

  /**
   * Audio was queued or resumed: if the call is idle, its first frame goes to the socket now (in
   * a microtask, so the chunks queued in the same task go together) and the call's pacing is
   * anchored there; while a lane's frames sent ahead are still playing out, the slots they
   * skipped are filled at once instead.
   */
  kick (): void {
    this.#grid.rejoin()
    if (this.#kickPending || this.#closed || this.#cancelDeferred !== undefined) return
    this.#kickPending = true
    queueMicrotask(() => {
      this.#kickPending = false
      const now = this.#scheduler.clock.now()
      // Right at a write tick the model could count the frame in the wrong tick for good: it goes
      // just after the tick instead (a wait of at most 5 ms; in an idle tick its slot was taken
      // by the silence sent before it anyway, so on the wire it costs nothing).
      const later = this.#known()?.unsure(now)
      if (later === undefined) {
        this.#kickNow(now)
        return
      }
      this.#cancelDeferred = this.#scheduler.once(() => {
        this.#cancelDeferred = undefined
        this.#kickNow(this.#scheduler.clock.now())
      }, later)
    })
  }

  #kickNow (now: number): void {
    if (!this.#canSend() || this.#queue.idle) return
    if (this.#closeLane === undefined) {
      this.#startLane(now)
    } else if (this.#drained > 0) {
      const n = this.#drained
      this.#drained = 0
      // Served ahead (aheadMs), a slot may not be due yet: its frame then waits for it.
      const frame = this.#scheduler.frameMs
      for (let i = 0; i < n; i++) this.#sendNow(Math.max(now, this.#drainedDue + i * frame))
    }
  }

  /** The write clock once it knows the ticks; the first time, the settling gap starts. */
  #known (): WriteClock | undefined {
    const clock = this.#clock
    if (clock === undefined || !clock.known) return undefined
    if (!this.#synced) {
      this.#synced = true
      this.#settle = SETTLE_SLOTS
    }
    return clock
  }

  /** Send one frame at `now` (the time it leaves: a held frame's due time). */
  #sendNow (now: number): void {
    this.#send(now)
    // Ticks on which the switch had nothing of ours to write (skips, a cold call's silence, a late
    // wake-up): each gave 20 ms of any lag back. Counted by the write model (not by the time since
    // our last send: from a reply's lane to idle pacing the phase moves up to a frame, no tick
    // freed); until it knows the ticks, a frame and a half with nothing sent counts as one.
    const frame = this.#scheduler.frameMs
    const free = this.#clock?.wrote(now) ?? (now - this.#lastSentAt > 1.5 * frame ? 1 : 0)
    this.#lastSentAt = now
    if (free > 0) {
      this.#sinceFree = 0
      if (this.#drainMs > 0) this.#drainMs = Math.max(0, this.#drainMs - Math.max(0, free - this.#drainPending) * frame)
    } else {
      this.#sinceFree++
    }
    this.#drainPending = 0
  }

  /** Leave this idle frame out, for a free tick? (Only asked of a frame that would be written at once.) */
  #drain (): boolean {
    const stalled = this.#clock?.takeStalled() ?? 0
    if (stalled > 0) this.#drainMs += stalled
    if (this.#drainMs > 0) {
      this.#drainMs = Math.max(0, this.#drainMs - this.#scheduler.frameMs)
      this.#drainPending++
    } else if (this.#sinceFree < DRAIN_EVERY) {
      return false
    }
    this.#sinceFree = 0
    this.#drainSkipped++
    return true
  }

  /** Frame 0 and the lead now; frame k + lead at `now + k * 20 ms` on the call's own lane. */
  #startLane (now: number): void {
    this.#endIdle()
    // A reply during the settling gap: the gap starts over once it has played.
    if (this.#settle > 0) this.#settle = SETTLE_SLOTS
    this.#drained = 0
    this.#closeLane = this.#scheduler.addLane(this.#laneSubscriber, now, this.#ahead)
    for (let i = 0; i <= this.#lead; i++) this.#sendNow(now)
  }

  #endLane (): void {
    const close = this.#closeLane
    this.#closeLane = undefined
    this.#drained = 0
    close?.()
  }

  #onLaneTick (frames: number, now: number, dueAt: number): void {
    for (let i = 0; i < frames; i++) {
      // Served ahead (aheadMs), a frame leaves when its slot is due; a slot already due, at once.
      const at = Math.max(now, dueAt + i * this.#scheduler.frameMs)
      if (!this.#queue.empty) {
        if (!this.#canSend()) return
        // Paused: silence at the lane's pace, so resume() carries on without a new anchor.
        this.#drained = 0
        this.#sendNow(at)
        continue
      }
      // Nothing queued: the frames sent ahead play out first (nothing sent for `lead` slots),
      // then the call goes back to idle.
      if (this.#drained < this.#lead) {
        if (this.#drained === 0) this.#drainedDue = at
        this.#drained++
        continue
      }
      // This slot is the first with nothing in hand at FreeSWITCH: silence just in time (or,
      // with the write ticks known, whatever the model says), and idle pacing carries on. A cold
      // call (no warm window: FreeSWITCH on timerfd, quiet-idle.ts) sends nothing: the shared grid
      // sends its keep-alive (#onTick), and the lane does not wake every 20 ms for nothing.
      this.#endLane()
      if (this.#canSend()) this.#idle(at)
      return
    }
  }

  /** One idle slot: silence unless a frame of ours already holds this write tick; then idle pacing. */
  #idle (now: number): void {
    const clock = this.#known()
    if (clock === undefined) {
      if (!this.#drain()) this.#sendNow(now)
      return
    }
    if (this.#settle > 0) {
      this.#settle--
      this.#idleSkipped++
      if (this.#settle === 0) clock.forget()
    } else {
      const meets = clock.unsure(now) === undefined ? clock.wouldMeet(now) : 'waits'
      if (meets === 'waits') {
        // Too close to a tick to know which it takes (a late wake-up), or a frame of ours holds it.
        this.#idleSkipped++
      } else if (meets === 'resync' || !this.#drain()) {
        // 'now', or 'resync' (no write for two ticks): whatever we send then waits for the next
        // tick, so it goes now and the skip that follows frees the tick after it.
        this.#sendNow(now)
      }
    }
    this.#openIdle(now)
  }

  #onIdleTick (now: number): void {
    if (!this.#canSend()) {
      // A cold call (quiet-idle.ts) may send nothing for a second: its lane would wake every
      // 20 ms for nothing. The shared grid asks canSend() each tick anyway (#onTick), and when it
      // turns true sends or skips by the write model and opens the lane again (#idle).
      this.#endIdle()
      return
    }
    // How late this slot is (served early by coalescing: not late).
    const frame = this.#scheduler.frameMs
    const late = Math.min(MAX_MARGIN_MS, Math.max(0, now - (this.#idleAnchor + frame * Math.round((now - this.#idleAnchor) / frame))))
    this.#lateness = late > this.#lateness ? late : this.#lateness * 0.99
    if (!this.#queue.idle) {
      this.#startLane(now)
      return
    }
    this.#idle(now)
  }

  /**
   * Keep the idle lane a margin before the write ticks (re-anchored when the estimate or the margin moved
   * more than REANCHOR_MS): its next slot is the first such moment after `now`. Each slot then
   * asks the model whether to send (#idle).
   */
  #openIdle (now: number): void {
    const clock = this.#clock as WriteClock
    const frame = this.#scheduler.frameMs
    const margin = Math.min(MAX_MARGIN_MS, this.#minMargin + this.#lateness)
    let at = clock.tickAt((clock.interval(now) as number) + 1) - margin
    if (at <= now) at += frame
    if (this.#closeIdle !== undefined) {
      let off = (at - this.#idleAnchor) % frame
      if (off < 0) off += frame
      if (off <= REANCHOR_MS || off >= frame - REANCHOR_MS) return
      this.#endIdle()
    }
    // A lane's slot 0 is its owner's: the scheduler serves slot 1, at anchor + one frame.
    this.#idleAnchor = at - frame
    this.#closeIdle = this.#scheduler.addLane(this.#idleSubscriber, this.#idleAnchor)
  }

  #endIdle (): void {
    const close = this.#closeIdle
    this.#closeIdle = undefined
    close?.()
  }
}
