/**
 * Whether an idle call (nothing queued) sends its silence frame this tick.
 *
 * Idle silence on every write tick is what keeps FreeSWITCH's RTP write timer "warm": with the
 * matrix timer (switch_time.c timer_next), after two or more ticks with no write the timer is
 * re-synced and the next frame waits for the following tick, so a reply that starts after a gap
 * is heard up to 20 ms later (write-clock.ts). That is worth its cost (a datagram per call per
 * 20 ms: about a third of a quiet call's CPU, bench/pacer-idle.ts) only while a reply may start:
 * around a turn. So silence flows while the caller made a sound, or we sent audio, in the last
 * `warmMs`; after that a quiet call sends one silence frame per `keepAliveMs`. On Linux's default
 * timerfd soft timer (switch_time.c _timerfd_next) a write after idle ticks goes out at once, so
 * there is nothing to keep warm: the endpoint then uses a `warmMs` of 0 (endpoint-options.ts
 * writeTimer), the keep-alive alone.
 *
 * What FreeSWITCH does with no datagrams: unicast_thread_run (switch_ivr.c) blocks in
 * switch_socket_recv and writes nothing toward the caller, and the park loop writes nothing of
 * its own unless send_silence_when_idle is set (switch_ivr_park), so the caller gets no RTP at
 * all, even with CN negotiated: auto-CNG (switch_rtp.c check_rtcp_and_ice) sends a comfort-noise
 * packet once the write timer's sample count is 60 intervals past the last write, but that count
 * only moves when something is written (get_next_write_ts -> switch_core_timer_next), so on a
 * line we leave silent it never does (measured on FreeSWITCH 1.11 with CN offered: none in 15 s,
 * docs/simulator.md "Checked on a real FreeSWITCH"). A quiet line is silence either way; the
 * keep-alive frame keeps RTP flowing at least once a second for carriers' media-inactivity timers
 * and NAT bindings. The simulator does the same (lib/simulator/unicast.ts, ear.ts: no datagram,
 * no RTP, a gap).
 */

/** Peak level (about -40 dBFS) above which a caller's frame counts as a sound: a quiet line stays below. */
export const LOUD_PEAK = 328
/** Default: a reply comes within seconds of the caller's last sound (end silence, providers). */
export const WARM_MS = 5000
/** Default: one frame a second on a cold line. */
export const KEEP_ALIVE_MS = 1000

export class QuietIdle {
  readonly #warmMs: number
  readonly #keepAliveMs: number
  /** The last sign of a turn: the caller's last loud frame, our last audio frame, the start. */
  #activeAt: number
  #lastSentAt = Number.NEGATIVE_INFINITY

  /** `warmMs` Infinity: idle silence on every tick, always. */
  constructor (now: number, warmMs = WARM_MS, keepAliveMs = KEEP_ALIVE_MS) {
    this.#activeAt = now
    // Not a number or negative: the default (an option, not caller input; never a crash).
    this.#warmMs = warmMs >= 0 ? warmMs : WARM_MS
    this.#keepAliveMs = keepAliveMs > 0 ? keepAliveMs : KEEP_ALIVE_MS
  }

  /** A frame of the caller's arrived at `at`. */
  heard (samples: Int16Array, at: number): void {
    // A loud frame seen in the last second is enough to stay warm: a quiet line is the one to check.
    if (at - this.#activeAt < 1000 || this.#warmMs === Number.POSITIVE_INFINITY) return
    // Every other sample: a voice above -40 dBFS is not missed by a 4 kHz look.
    for (let i = 0; i < samples.length; i += 2) {
      const s = samples[i] as number
      if (s > LOUD_PEAK || s < -LOUD_PEAK) {
        this.#activeAt = at
        return
      }
    }
  }

  /** We sent a frame at `at`; `audio`: it carried queued audio, not idle silence. */
  sent (at: number, audio: boolean): void {
    this.#lastSentAt = at
    if (audio) this.#activeAt = at
  }

  /** Whether a caller's sound can make wanted() true at once (a warm window): then it must be asked every tick. */
  get warms (): boolean { return this.#warmMs > 0 }

  /** When wanted() turns true by itself: now while warm, else the next keep-alive. */
  nextWanted (now: number): number {
    if (now - this.#activeAt < this.#warmMs) return now
    return Math.max(now, this.#lastSentAt + this.#keepAliveMs)
  }

  /** Send this idle tick's silence? (Audio queued is always sent: the caller of this asks only when idle.) */
  wanted (now: number): boolean {
    if (now - this.#activeAt < this.#warmMs) return true
    return now - this.#lastSentAt >= this.#keepAliveMs
  }
}
