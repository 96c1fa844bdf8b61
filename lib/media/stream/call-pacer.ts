import type { OutboundQueue } from './outbound.ts'
import type { FrameScheduler, TickSubscriber } from './scheduler.ts'

/**
 * When one call's frames go to the socket. Idle (nothing queued), the call rides the shared
 * frame grid and sends one frame of silence per tick, just in time: no frame is kept ahead at
 * FreeSWITCH, whose unicast thread writes each datagram toward the caller as it arrives and
 * nothing when none is waiting (switch_ivr.c unicast_thread_run). When audio is queued, its first
 * frame and `lead` frames ahead go out at once, and the call paces on a lane of its own anchored
 * at that moment (frame k + lead at anchor + 20k ms): a reply never waits for the shared grid's
 * next tick, and pacing stays drift-free from its first frame. Once the queue runs dry, the frames
 * sent ahead play out (nothing sent for `lead` slots) and the call goes back to the grid.
 */
export interface CallPacerOptions {
  readonly scheduler: FrameScheduler
  readonly queue: OutboundQueue
  /** Frames ahead of real time while speaking (0-2). */
  readonly lead: number
  /** False while FreeSWITCH's address is unknown, the socket is connecting, or the call closed. */
  readonly canSend: () => boolean
  /** Send the queue's next frame (silence when idle or paused), stamped `now`. */
  readonly send: (now: number) => void
}

export class CallPacer {
  readonly #scheduler: FrameScheduler
  readonly #queue: OutboundQueue
  readonly #lead: number
  readonly #canSend: () => boolean
  readonly #send: (now: number) => void
  readonly #laneSubscriber: TickSubscriber
  readonly #unsubscribe: () => void
  /** Closes this call's own lane; set while it speaks (audio queued, or its lead playing out). */
  #closeLane: (() => void) | undefined
  /** Lane slots passed with nothing queued: the frames sent ahead playing out before idling. */
  #drained = 0
  #kickPending = false
  #closed = false

  constructor (options: CallPacerOptions) {
    this.#scheduler = options.scheduler
    this.#queue = options.queue
    this.#lead = options.lead
    this.#canSend = options.canSend
    this.#send = options.send
    this.#laneSubscriber = { onTick: (frames, now) => { this.#onLaneTick(frames, now) } }
    this.#unsubscribe = this.#scheduler.add({ onTick: (frames, now) => { this.#onTick(frames, now) } })
  }

  /** Stop pacing: leave the grid and close the lane. Idempotent. */
  close (): void {
    this.#closed = true
    this.#unsubscribe()
    this.#endLane()
  }

  /** The shared grid: while idle, silence just in time (no frame ahead); audio waiting starts a lane. */
  #onTick (_frames: number, now: number): void {
    if (this.#closeLane !== undefined || !this.#canSend()) return
    if (!this.#queue.idle) {
      this.#startLane(now)
      return
    }
    // One frame per wake-up even after a late one: a missed idle slot is a packet FreeSWITCH
    // does not write (switch_ivr.c unicast_thread_run writes only what arrives), never a frame
    // queued ahead of the next reply.
    this.#send(now)
  }

  /**
   * Audio was queued or resumed: if the call is idle on the shared grid, its first frame goes to
   * the socket now (in a microtask, so the chunks queued in the same task go together) and the
   * call's pacing is anchored there; while a lane's frames sent ahead are still playing out, the
   * slots they skipped are filled at once instead.
   */
  kick (): void {
    if (this.#kickPending || this.#closed) return
    this.#kickPending = true
    queueMicrotask(() => {
      this.#kickPending = false
      if (!this.#canSend() || this.#queue.idle) return
      const now = this.#scheduler.clock.now()
      if (this.#closeLane === undefined) {
        this.#startLane(now)
      } else if (this.#drained > 0) {
        const n = this.#drained
        this.#drained = 0
        for (let i = 0; i < n; i++) this.#send(now)
      }
    })
  }

  /** Frame 0 and the lead now; frame k + lead at `now + k * 20 ms` on the call's own lane. */
  #startLane (now: number): void {
    this.#drained = 0
    this.#closeLane = this.#scheduler.addLane(this.#laneSubscriber, now)
    for (let i = 0; i <= this.#lead; i++) this.#send(now)
  }

  #endLane (): void {
    const close = this.#closeLane
    this.#closeLane = undefined
    this.#drained = 0
    close?.()
  }

  #onLaneTick (frames: number, now: number): void {
    if (!this.#canSend()) return
    for (let i = 0; i < frames; i++) {
      if (!this.#queue.empty) {
        // Paused: silence at the lane's pace, so resume() carries on without a new anchor.
        this.#drained = 0
        this.#send(now)
        continue
      }
      // Nothing queued: the frames sent ahead play out first (nothing sent for `lead` slots),
      // then the call goes back to the shared grid and its just-in-time silence.
      if (this.#drained < this.#lead) {
        this.#drained++
        continue
      }
      // This slot is the first with nothing in hand at FreeSWITCH: silence just in time, and the
      // shared grid (at most a frame's phase away) carries on, so no packet is missed.
      this.#endLane()
      this.#send(now)
      return
    }
  }
}
