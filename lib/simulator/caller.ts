import { readFileSync } from 'node:fs'
import { parseWav, toMono8k } from './wav.ts'
import { LineEcho, type HeardAudio } from './line-echo.ts'
import type { CallerEcho } from './types.ts'

/** 20 ms of 8 kHz mono audio: the frame size of the channel (PCMA/8000, ptime 20). */
export const FRAME_SAMPLES = 160
export const FRAME_MS = 20

/**
 * The caller's side of the media: what the caller says, on a timeline whose 0 is the moment
 * our `connect` was answered. Silent where no clip plays (a phone keeps sending RTP).
 */
export class CallerAudio {
  private readonly clips: Array<{ startSample: number, samples: Int16Array }> = []
  /** Frame ranges [from, to) in which the caller's RTP does not arrive (silence suppression, hold, loss). */
  private readonly gaps: Array<{ from: number, to: number }> = []
  /** Packets from frame `from` on that arrive `frames` read ticks late (network jitter), with those due meanwhile. */
  private readonly lates: Array<{ from: number, frames: number }> = []
  /** Read ticks from `tick` on: CNG before `cngUntil`, then the caller's frame `tick - shift`. */
  private reads: ReadSegment[] = []
  /** The line's echo of what the caller hears, when the script asks for one. */
  private lineEcho: LineEcho | undefined

  /**
   * What the caller hears (the ear `heard()` returns) comes back in what they send, as `options`
   * says. Throws a RangeError on settings no line has.
   */
  echo (options: CallerEcho, heard: () => HeardAudio): void {
    this.lineEcho = new LineEcho(heard, options)
  }

  /** No RTP from the caller for `durationMs` from `atMs`: whatever they say then is lost. */
  addGap (atMs: number, durationMs: number): void {
    this.gaps.push({ from: Math.floor(atMs / FRAME_MS), to: Math.ceil((atMs + durationMs) / FRAME_MS) })
    this.reads = readSegments(this.gaps, this.lates)
  }

  /**
   * The caller's packets from `atMs` on arrive `lateMs` late (network jitter, a phone that
   * stalled), those due meanwhile with them; later ones on time. FreeSWITCH's read finds no packet
   * on the ticks in between (CNG frames) and from then on reads the caller's frames that many
   * ticks late, for the rest of the call: see readSegments.
   */
  addLate (atMs: number, lateMs: number): void {
    if (!(lateMs > 0)) return
    this.lates.push({ from: Math.floor(atMs / FRAME_MS), frames: Math.ceil(lateMs / FRAME_MS) })
    this.reads = readSegments(this.gaps, this.lates)
  }

  /** Whether read tick `index` finds no caller packet: FreeSWITCH then reads a CNG frame (SFF_CNG). */
  isGap (index: number): boolean {
    return this.callerFrame(index) === undefined
  }

  /** The caller's frame FreeSWITCH reads on tick `index`; undefined when that tick finds no packet. */
  callerFrame (index: number): number | undefined {
    let seg: ReadSegment | undefined
    for (const r of this.reads) if (r.tick <= index) seg = r
    if (seg === undefined) return index
    return index < seg.cngUntil ? undefined : index - seg.shift
  }

  /** Read ticks the caller's audio is behind the wire now (frames queued in FreeSWITCH's RTP socket). */
  backlogAt (index: number): number {
    let shift = 0
    for (const r of this.reads) if (r.tick <= index) shift = r.shift
    return shift
  }

  /** `audio` is a WAV file path, a WAV buffer, or raw 8 kHz signed 16-bit little-endian PCM. */
  add (atMs: number, audio: string | Buffer | Int16Array): void {
    let samples: Int16Array
    if (audio instanceof Int16Array) {
      samples = audio
    } else {
      const buf = typeof audio === 'string' ? readFileSync(audio) : audio
      if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF') {
        samples = toMono8k(parseWav(buf))
      } else {
        samples = new Int16Array(Math.floor(buf.length / 2))
        for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(i * 2)
      }
    }
    this.clips.push({ startSample: Math.round(atMs * 8), samples })
  }

  /**
   * What FreeSWITCH reads on tick `index` (tick 0 reads the frame that starts at time 0): the
   * caller's frame, clips and echo summed and clipped, or silence when no packet came.
   */
  frame (index: number): Int16Array {
    const out = new Int16Array(FRAME_SAMPLES)
    const callerIndex = this.callerFrame(index)
    if (callerIndex === undefined) return out
    const from = callerIndex * FRAME_SAMPLES
    for (const clip of this.clips) {
      const offset = from - clip.startSample
      if (offset + FRAME_SAMPLES <= 0 || offset >= clip.samples.length) continue
      for (let i = 0; i < FRAME_SAMPLES; i++) {
        const s = clip.samples[offset + i]
        if (s === undefined) continue
        out[i] = Math.max(-32768, Math.min(32767, (out[i] as number) + s))
      }
    }
    if (this.lineEcho !== undefined) {
      // The phone's mouthpiece and the line add the echo (and noise) to what the caller says.
      const mixed = Float64Array.from(out)
      this.lineEcho.addInto(mixed, from)
      for (let i = 0; i < FRAME_SAMPLES; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(mixed[i] as number)))
    }
    return out
  }

  /** The end of the last clip, in ms. */
  get endMs (): number {
    return this.clips.reduce((end, c) => Math.max(end, (c.startSample + c.samples.length) / 8), 0)
  }
}

interface ReadSegment { readonly tick: number, readonly cngUntil: number, readonly shift: number }

/**
 * Which caller frame FreeSWITCH reads on each tick, given lost packets (gaps) and late ones. With
 * its RTP timer on (a channel's default) and neither a jitter buffer nor `rtp_autoflush`, each
 * tick reads ONE packet: switch_rtp.c rtp_common_read() waits for switch_core_timer_next() and
 * then makes a single read_rtp_packet(); only SWITCH_RTP_FLAG_AUTOFLUSH / STICKY_FLUSH (the
 * `rtp_autoflush` channel variable, or a bridge's rtp_autoflush_during_bridge, on by default in
 * sofia) poll for more and skip a timer wait to catch up. The pack's public context sets
 * `rtp_autoflush`; this model leaves the catch-up out, so it is stricter than such a channel.
 * A tick that finds the socket empty returns a CNG frame (return_cng_frame()). So packets that arrive late are all read,
 * one per tick, behind the CNG frames their lateness cost: the caller's audio stays that many
 * ticks behind the wire for the rest of the call. Only a tick that finds the socket empty again (a
 * packet lost, a slower caller clock) takes a frame of it back. A real FreeSWITCH 1.11 in the lab
 * (2026-12-02): one 50 ms hold-up of the caller's RTP left every later utterance reaching us 40 ms
 * later, for the whole call (docs/benchmarks.md, "On a real FreeSWITCH: turn-taking").
 * Ticks here fall exactly when a frame is complete, so any lateness costs ticks: a real caller's
 * packets land somewhere inside the tick, which absorbs lateness up to that margin (never more).
 */
function readSegments (gaps: ReadonlyArray<{ from: number, to: number }>, lates: ReadonlyArray<{ from: number, frames: number }>): ReadSegment[] {
  // Overlapping gaps (a hold during loss) lose their union.
  const lost: Array<{ from: number, to: number }> = []
  for (const g of [...gaps].sort((a, b) => a.from - b.from)) {
    const last = lost.at(-1)
    if (last !== undefined && g.from <= last.to) last.to = Math.max(last.to, g.to)
    else lost.push({ ...g })
  }
  const events = [
    ...lost.map((g) => ({ from: g.from, kind: 'lost' as const, frames: g.to - g.from })),
    ...lates.map((l) => ({ from: l.from, kind: 'late' as const, frames: l.frames })),
  ].filter((e) => e.frames > 0).sort((a, b) => a.from - b.from)
  const out: ReadSegment[] = []
  let backlog = 0
  for (const e of events) {
    // The caller's frame e.from - 1 was read on tick e.from - 1 + backlog; the next tick wants e.from.
    const tick = e.from + backlog
    if (e.kind === 'lost') {
      // Frames [from, from + frames) never come. The next one, due on tick from + frames, is read
      // at once if the queue was that long (the backlog shrinks), else after CNG ticks (none left).
      const next = e.from + e.frames
      const cngUntil = Math.max(tick, next)
      backlog = cngUntil - next
      out.push({ tick, cngUntil, shift: backlog })
    } else {
      // Frame e.from arrives on tick e.from + frames: nothing to read before it if the queue is shorter.
      if (e.frames <= backlog) continue
      out.push({ tick, cngUntil: e.from + e.frames, shift: e.frames })
      backlog = e.frames
    }
  }
  return out
}

/** switch_ivr_record_file() energy score: mean absolute sample value (divisor 1 at 8 kHz). */
export function frameScore (frame: Int16Array): number {
  let energy = 0
  for (const s of frame) energy += Math.abs(s)
  return Math.floor(energy / frame.length)
}

export function frameToBuffer (frame: Int16Array): Buffer {
  const buf = Buffer.alloc(frame.length * 2)
  for (let i = 0; i < frame.length; i++) buf.writeInt16LE(frame[i] as number, i * 2)
  return buf
}
