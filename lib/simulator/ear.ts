import type { CallerAudio } from './caller.ts'
import { FRAME_MS, FRAME_SAMPLES } from './caller.ts'
import { buildWav } from './wav.ts'

/**
 * What the caller heard: every 20 ms frame FreeSWITCH sent toward the phone, with the moment
 * it was handed to FreeSWITCH and the moment it played. Where nothing was written there was no
 * RTP at all (a gap), which is how the real switch behaves in park: switch_ivr_park() writes
 * nothing of its own unless send_silence_when_idle is set.
 */

export interface HeardFrame {
  /** 'unicast': one of our datagrams; 'playback': a frame of a file FreeSWITCH played. */
  readonly source: 'unicast' | 'playback'
  /** When FreeSWITCH got the frame (ms on the call timeline; 0 = connect answered). */
  readonly arrivalMs: number
  /** When FreeSWITCH wrote it toward the caller: its RTP write timer's tick (arrivalMs or later). */
  readonly writtenMs: number
  /** When the caller started hearing it: later than arrivalMs when frames were queued ahead. */
  readonly playMs: number
  /** 160 samples of 8 kHz audio (a packet of the call's ptime), after any displace_session mixing. */
  readonly samples: Int16Array
}

export interface AudioGap {
  readonly startMs: number
  readonly endMs: number
}

/**
 * Which soft timer FreeSWITCH's RTP write timer runs on (switch_time.c; see queueUnicast):
 * 'timerfd', one timerfd per timer, is what Linux builds use by default (TFD == 2 when
 * HAVE_TIMERFD_CREATE); 'matrix', the shared TIMER_MATRIX tick, is what builds without timerfd
 * use, or a Linux build with switch.conf `enable-monotonic-timing` false and
 * `enable-softtimer-timerfd` not true. 'sleep' is what `enable-softtimer-timerfd` false gives a
 * Linux build with the monotonic clock (its default): a 20 ms sleep before every write (see
 * queueUnicast). The matrix is stricter than timerfd; sleep is the slowest of the three.
 */
export type WriteTimer = 'matrix' | 'timerfd' | 'sleep'

export class CallerEar {
  readonly heard: HeardFrame[] = []
  /** Frames by the 20 ms slot their play time falls in: the line echo renders a frame at a time. */
  private readonly slots = new Map<number, HeardFrame[]>()
  /** When the unicast play-out queue runs dry (ms on the call timeline). */
  private unicastFreeMs = Number.NEGATIVE_INFINITY
  /**
   * matrix: the write timer's reference, the 20 ms tick its last write was due at
   * (timer_private_t.reference); timerfd: the last expiry a timer read consumed.
   */
  private writeTick = Number.NEGATIVE_INFINITY
  /** When the unicast thread's last write returned: it reads the next datagram only then. */
  private lastWrittenMs = Number.NEGATIVE_INFINITY
  /** Stretches in which the unicast thread does not run (stall()), by start. */
  private readonly stalls: Array<{ readonly fromMs: number, readonly toMs: number }> = []
  /** When the channel hung up: nothing is written toward the caller after it (hangUpAt()). */
  private hungUpAtMs = Number.POSITIVE_INFINITY

  /**
   * `writeTimer`: the soft timer FreeSWITCH writes on; default the stricter matrix (never easier
   * than a real switch). `packetMs`: the call's ptime, the write timer's interval (switch_rtp.c
   * switch_rtp_create: both timers at the codec's ptime); each write is one packet of it.
   */
  constructor (readonly writeTimer: WriteTimer = 'matrix', readonly packetMs = FRAME_MS) {}

  /**
   * One of our datagrams' frames, written toward the caller on FreeSWITCH's RTP write timer:
   * switch_rtp.c rtp_common_write -> get_next_write_ts -> switch_core_timer_next, which
   * (switch_time.c timer_next) steps the timer's reference one tick and waits until the shared
   * 20 ms tick (TIMER_MATRIX, the one the read side runs on: the call timeline's 20 ms grid here)
   * reaches it. So a frame written one tick after the last goes out at once; a second frame in the
   * same tick waits for the next one (a reply's first frame sent off our grid waits up to 20 ms);
   * after two or more ticks with no write the reference is synced to the current tick first
   * ("sync up timer if it's not been called for a while"), so that frame waits for the next tick
   * too. The far end plays what arrives back to back, 20 ms each: sending ahead delays the rest.
   *
   * That is the matrix timer, the simulator's default. Linux builds default to a timerfd per
   * timer instead (writeTimer 'timerfd'; switch_time.c: TFD == 2 when HAVE_TIMERFD_CREATE,
   * timer_next -> _timerfd_next): a read() that returns at once when an expiry is pending and
   * takes every pending one (`timer->tick += u64`), else blocks until the next. So a frame
   * is written at once unless a write already consumed this tick's expiry, and then at the next
   * tick; after idle ticks the first frame goes out at once, with no resync. It never writes
   * later than the matrix for the same frames (test/simulator/write-timer.spec.ts), so the
   * default is the stricter of the two. Either way the write timer ticks with the read timer that paces the
   * caller's frames (switch_rtp.c switch_rtp_create: `timer` then `write_timer`, same interval; on
   * timerfd the write ticks trail by the ~0.1 ms of timerfd_start_interval's first expiry, not
   * modelled): here both are the call timeline's 20 ms grid.
   *
   * Checked on a real FreeSWITCH 1.11 on Linux (timerfd; lab runs wt_timing1-3 and wt_quiet1,
   * docs/simulator.md): the write ticks fell 0.1-0.4 ms after the caller's frames left for us, for
   * 4 minutes without drifting; a frame sent with the timer's tick free was written 0.1 ms p50
   * later at every phase of the tick, also after 1 to 50 idle ticks (where this model waits for
   * the next tick: stricter); a burst went out one frame a tick, every frame of it; and on a tick
   * with no datagram of ours nothing at all was written toward the caller. Taking the switch's
   * real write before each frame as the state, the timerfd model matched its next write within
   * 0.1 ms p50, 0.4-1.2 ms p90; the rest were the switch's own stalls (see stall()).
   *
   * 'sleep': switch.conf `enable-softtimer-timerfd` false maps to TFD = 1, not 0 (switch_core.c
   * switch_load_core_config: only a true value or "broadcast" gives 2, anything else 1); with the
   * monotonic clock the runtime thread then takes a timerfd of its own and sets MATRIX = 0
   * (switch_time.c SWITCH_MODULE_RUNTIME_FUNCTION), and timer_next, not on _timerfd_next
   * (TFD != 2), only does `do_sleep(1000 * timer->interval)`. So every write sleeps 20 ms first:
   * a frame is written 20 ms after the later of its arrival and the previous write. Checked on a
   * real FreeSWITCH 1.11.3 (lab runs m1, n1, 2026-12-03): 99.0-99.5 % of frames within 1 ms of
   * this rule; reply frames waited 45-55 ms p50 in the switch (timerfd: 1-20). The switch's read
   * side also fell behind (a tick every 20.13 ms): not modelled, the caller's frames keep the grid.
   */
  queueUnicast (samples: Int16Array, arrivalMs: number): HeardFrame {
    // One thread reads a datagram, then blocks in the write: the next is read once that returns.
    const readMs = this.running(Math.max(arrivalMs, this.lastWrittenMs))
    const tick = Math.floor(readMs / this.packetMs)
    let writtenMs: number
    if (this.writeTimer === 'sleep') {
      writtenMs = readMs + this.packetMs
    } else if (this.writeTimer === 'timerfd') {
      // An expiry is pending since the last read: it returns at once and takes them all.
      if (this.writeTick < tick) {
        this.writeTick = tick
        writtenMs = readMs
      } else {
        this.writeTick++
        writtenMs = this.writeTick * this.packetMs
      }
    } else {
      if (this.writeTick < tick - 1) this.writeTick = tick
      this.writeTick++
      writtenMs = this.writeTick <= tick ? readMs : this.writeTick * this.packetMs
    }
    const resumed = this.running(writtenMs)
    if (resumed !== writtenMs) {
      // Stalled while waiting for its tick: written when the thread runs again, and that timer
      // read took every expiry due meanwhile (_timerfd_next: tick += u64), so the next write
      // waits for the tick after. Frames read during the stall follow one a tick: the lag stays.
      writtenMs = resumed
      this.writeTick = Math.max(this.writeTick, Math.floor(resumed / this.packetMs))
    }
    this.lastWrittenMs = writtenMs
    const playMs = Math.max(writtenMs, this.unicastFreeMs)
    this.unicastFreeMs = playMs + this.packetMs
    const frame: HeardFrame = { source: 'unicast', arrivalMs, writtenMs, playMs, samples }
    this.add(frame)
    return frame
  }

  /**
   * FreeSWITCH's unicast thread does not run from `fromMs` for `durationMs` (a loaded switch: the
   * thread is not scheduled). Measured on a real FreeSWITCH 1.11 (lab runs wt_timing1-3, load
   * 2.5-18 on 2 cores): after such a stall the frames that waited in the socket are written one
   * per write tick, the first at once (so with writeTimer 'timerfd'; the matrix timer resyncs
   * and writes it at the next tick: stricter), and every frame after them keeps that lag while we send one per tick: unicast_thread_run (switch_ivr.c) writes one datagram per timer wait, and the wait
   * takes all expiries due at once (switch_time.c _timerfd_next). Only a tick with no datagram of
   * ours waiting gives one frame of lag back. Nothing in the simulator stalls unless a test says so.
   */
  stall (fromMs: number, durationMs: number): void {
    if (!(durationMs > 0)) return
    this.stalls.push({ fromMs, toMs: fromMs + durationMs })
    this.stalls.sort((a, b) => a.fromMs - b.fromMs)
  }

  /** The first moment at or after `atMs` when the unicast thread runs. */
  private running (atMs: number): number {
    let at = atMs
    for (const s of this.stalls) if (at >= s.fromMs && at < s.toMs) at = s.toMs
    return at
  }

  /**
   * The channel hung up at `atMs`: a frame still waiting for its write tick then is never written
   * (switch_core_media.c switch_core_session_write_frame returns SWITCH_STATUS_FALSE once the
   * channel is no longer up), so the caller never hears it. Measured on a real FreeSWITCH 1.11
   * (lab run agent_stall358): the 13 frames still queued at the hangup never reached the phone.
   */
  hangUpAt (atMs: number): void {
    this.hungUpAtMs = Math.min(this.hungUpAtMs, atMs)
    const kept = this.heard.filter((f) => f.writtenMs <= atMs)
    if (kept.length === this.heard.length) return
    this.heard.length = 0
    this.slots.clear()
    for (const f of kept) this.add(f)
  }

  /** A frame an application wrote in real time (playback): it plays when written. */
  writeNow (samples: Int16Array, atMs: number): void {
    this.add({ source: 'playback', arrivalMs: atMs, writtenMs: atMs, playMs: atMs, samples })
  }

  private add (frame: HeardFrame): void {
    if (frame.writtenMs > this.hungUpAtMs) return
    this.heard.push(frame)
    const slot = Math.floor(Math.round(frame.playMs * 8) / FRAME_SAMPLES)
    const list = this.slots.get(slot)
    if (list === undefined) this.slots.set(slot, [frame])
    else list.push(frame)
  }

  /** Adds what the caller heard in samples [fromSample, fromSample + out.length) to `out` (overlaps summed). */
  renderInto (out: Float64Array, fromSample: number): void {
    const last = Math.floor((fromSample + out.length - 1) / FRAME_SAMPLES)
    // A frame is filed under the 20 ms slot it starts in and reaches into the next; a packet of a
    // longer ptime (30 ms) into the one after that too.
    const back = Math.ceil(this.packetMs / FRAME_MS)
    for (let slot = Math.floor(fromSample / FRAME_SAMPLES) - back; slot <= last; slot++) {
      for (const f of this.slots.get(slot) ?? []) {
        const start = Math.round(f.playMs * 8) - fromSample
        const from = Math.max(0, -start)
        const to = Math.min(f.samples.length, out.length - start)
        for (let i = from; i < to; i++) out[start + i] = (out[start + i] as number) + (f.samples[i] as number)
      }
    }
  }

  /** Milliseconds of our audio FreeSWITCH holds that the caller has not heard yet. */
  queuedMs (nowMs: number): number {
    return Math.max(0, this.unicastFreeMs - nowMs)
  }

  /** Frames not yet (completely) played: the depth of the burst we sent ahead. */
  queueDepth (nowMs: number): number {
    return Math.ceil(this.queuedMs(nowMs) / this.packetMs)
  }

  /** The first frame the caller heard at or after `fromMs` whose mean absolute level reaches `minLevel`. */
  firstHeard (fromMs = 0, minLevel = 1): HeardFrame | undefined {
    return this.byPlayTime().find((f) => f.playMs >= fromMs && level(f.samples) >= minLevel)
  }

  /** The end of the last frame with level >= minLevel that started before `beforeMs`. */
  lastHeardEndMs (beforeMs = Number.POSITIVE_INFINITY, minLevel = 1): number | undefined {
    const frames = this.byPlayTime().filter((f) => f.playMs < beforeMs && level(f.samples) >= minLevel)
    const last = frames.at(-1)
    return last === undefined ? undefined : last.playMs + durationMs(last)
  }

  /**
   * When the audio the caller was hearing at `fromMs` stopped: the start of the first frame from
   * then on quieter than `minLevel`, or of the first stretch with no frame at all. Unlike
   * `lastHeardEndMs` it never runs on into a later reply. `fromMs` itself if nothing loud was
   * playing then. `gapsStop` false: a stretch with no frame does not end it (a stall of the
   * process that sends, where a sender that stopped sends quiet frames: our endpoint's silence on
   * the matrix timer), only a quiet frame does; the end of what was heard does too.
   */
  stoppedAfterMs (fromMs: number, minLevel = 1, gapsStop = true): number {
    let cursor = fromMs
    let playing = false
    for (const f of this.byPlayTime()) {
      if (f.playMs + durationMs(f) <= cursor) continue
      const gap = f.playMs - cursor > FRAME_MS / 2
      if ((gap && (gapsStop || !playing)) || level(f.samples) < minLevel) return cursor
      playing = true
      cursor = f.playMs + durationMs(f)
    }
    return cursor
  }

  /**
   * Stretches between `fromMs` and `toMs` longer than `minMs` in which the caller received no
   * frame at all (no RTP). Sub-frame jitter of a real-time sender is not a gap by default.
   */
  gaps (fromMs: number, toMs: number, minMs = FRAME_MS / 2): AudioGap[] {
    const out: AudioGap[] = []
    let cursor = fromMs
    for (const f of this.byPlayTime()) {
      if (f.playMs >= toMs) break
      if (f.playMs - cursor > minMs) out.push({ startMs: cursor, endMs: f.playMs })
      cursor = Math.max(cursor, f.playMs + durationMs(f))
    }
    if (toMs - cursor > minMs) out.push({ startMs: cursor, endMs: toMs })
    return out
  }

  /** What the caller heard as 8 kHz mono PCM from time 0 to `durationMs` (overlaps are summed). */
  render (durationMs: number): Int16Array {
    const out = new Int16Array(Math.max(0, Math.round(durationMs * 8)))
    for (const f of this.heard) {
      const start = Math.round(f.playMs * 8)
      for (let i = 0; i < f.samples.length; i++) {
        const at = start + i
        if (at < 0 || at >= out.length) continue
        out[at] = clip((out[at] as number) + (f.samples[i] as number))
      }
    }
    return out
  }

  private byPlayTime (): HeardFrame[] {
    return [...this.heard].sort((a, b) => a.playMs - b.playMs)
  }
}

/**
 * The conversation as a stereo 8 kHz WAV: the caller's speech on the left (their timeline, as
 * they said it), what they heard from us on the right, both from time 0 to `durationMs`.
 */
export function conversationWav (caller: CallerAudio, ear: CallerEar, durationMs: number): Buffer {
  const right = ear.render(durationMs)
  const pcm = Buffer.alloc(right.length * 4)
  const frames = Math.ceil(right.length / FRAME_SAMPLES)
  for (let f = 0; f < frames; f++) {
    const left = caller.frame(f)
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const at = f * FRAME_SAMPLES + i
      if (at >= right.length) break
      pcm.writeInt16LE(left[i] as number, at * 4)
      pcm.writeInt16LE(right[at] as number, at * 4 + 2)
    }
  }
  return buildWav(pcm, 8000, 2)
}

/** How long a heard frame plays: 20 ms, or a packet of the call's ptime (8 kHz). */
function durationMs (frame: HeardFrame): number {
  return frame.samples.length / 8
}

/** Mean absolute sample value, the measure switch_ivr_record_file() uses for silence. */
export function level (samples: Int16Array): number {
  let sum = 0
  for (const s of samples) sum += Math.abs(s)
  return samples.length === 0 ? 0 : sum / samples.length
}

function clip (v: number): number {
  return Math.max(-32768, Math.min(32767, v))
}
