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
  }

  /** Whether frame `index` falls in an RTP gap: FreeSWITCH then reads a CNG frame (SFF_CNG). */
  isGap (index: number): boolean {
    return this.gaps.some((g) => index >= g.from && index < g.to)
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

  /** The caller's frame number `index` (frame 0 starts at time 0), clips and echo summed and clipped. */
  frame (index: number): Int16Array {
    const out = new Int16Array(FRAME_SAMPLES)
    if (this.isGap(index)) return out
    const from = index * FRAME_SAMPLES
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
