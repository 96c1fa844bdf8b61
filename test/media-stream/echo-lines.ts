import type { EchoVerdict } from '../../lib/media/echo.ts'
import { resample } from '../../lib/media/resample.ts'
import { CallerAudio } from '../../lib/simulator/caller.ts'
import { CallerEar } from '../../lib/simulator/ear.ts'
import type { CallerEcho } from '../../lib/simulator/types.ts'
import * as s from './signals.ts'

/**
 * Lines for the echo guard's specs (echo-identical.spec.ts, echo-known-line.spec.ts): our
 * speech, its echo on the caller's line through the simulator's line model, and a caller
 * talking over us, as the guard gets them: our frames sent a frame ahead on a jittery tick, the
 * caller's arriving a frame and 10 ms of network later.
 */

export const RATE = 8000

export interface Case {
  readonly name: string
  readonly echo: CallerEcho
  readonly rate?: number
  readonly frameMs?: number
  readonly caller?: { readonly atMs: number, readonly samples: Int16Array }
  readonly jitterMs?: number
  readonly stall?: { readonly atMs: number, readonly ms: number }
  /** The line's echo changes at `atMs` (the caller's frames from then on are from this line). */
  readonly then?: { readonly atMs: number, readonly echo: CallerEcho }
  /** Stretches of our speech (default two, ~5 s in all); more make a longer call. */
  readonly stretches?: number
  /** The silence between our first two stretches (default 600 ms): a longer one is a pause between replies. */
  readonly pauseMs?: number
}

export interface Frames {
  /** In arrival order: ours to note, or the caller's to judge. */
  readonly events: ReadonlyArray<{ readonly out: boolean, readonly samples: Int16Array, readonly atMs: number }>
}

/** Our speech, its echo on the caller's line and the caller, as the guard gets them (echo.spec.ts's way). */
export function render (c: Case): Frames {
  const rate = c.rate ?? RATE
  const frameMs = c.frameMs ?? 20
  const n = RATE * frameMs / 1000
  const more = Array.from({ length: Math.max(0, (c.stretches ?? 2) - 2) }, (_, k) => [s.silence(RATE, 0.3), s.speechLike(RATE, 2.5, -18, { f0: 120 + 5 * k, seed: 30 + k })]).flat()
  const agent = s.concat([s.silence(RATE, 0.5), s.speechLike(RATE, 2.5, -18, { f0: 120, seed: 7 }), s.silence(RATE, (c.pauseMs ?? 600) / 1000), s.speechLike(RATE, 2, -20, { f0: 125, seed: 8 }), ...more, s.silence(RATE, 1)])
  const frames = Math.floor(agent.length / n)
  const rand = s.rng(9)
  const jitter = (): number => (rand() * 2 - 1) * (c.jitterMs ?? 3)
  const up = (x: Int16Array): Int16Array => rate === RATE ? x : resample(x, RATE, rate)
  const late = (k: number): number => c.stall !== undefined && k * frameMs >= c.stall.atMs ? c.stall.ms : 0
  // The caller's audio comes in 20 ms frames from the simulator; regroup it to the frame size.
  const lineWith = (echo: CallerEcho): Int16Array[] => {
    const ear = new CallerEar()
    const audio = new CallerAudio()
    audio.echo(echo, () => ear)
    if (c.caller !== undefined) audio.add(c.caller.atMs, c.caller.samples)
    for (let k = 0; k < frames; k++) ear.writeNow(agent.subarray(k * n, (k + 1) * n), k * frameMs + late(k))
    return Array.from({ length: Math.ceil(frames * frameMs / 20) }, (_, i) => audio.frame(i))
  }
  const first = lineWith(c.echo)
  const then = c.then === undefined ? undefined : { from: c.then.atMs / 20, frames: lineWith(c.then.echo) }
  const line = s.concat(first.map((f, i) => then !== undefined && i >= then.from ? then.frames[i] ?? f : f))
  const events: Array<{ out: boolean, samples: Int16Array, atMs: number }> = []
  let sent = 0
  for (let i = 0; i < frames; i++) {
    const atMs = i * frameMs + frameMs + 10 + Math.abs(jitter())
    while (sent < frames && sent * frameMs - frameMs + late(sent) <= atMs) {
      events.push({ out: true, samples: up(agent.subarray(sent * n, (sent + 1) * n)), atMs: sent * frameMs - frameMs + late(sent) + jitter() })
      sent++
    }
    events.push({ out: false, samples: up(line.subarray(i * n, (i + 1) * n)), atMs })
  }
  return { events }
}

export interface Guard { noteOutbound (samples: Int16Array, sentAtMs: number): void, inbound (samples: Int16Array, atMs: number): EchoVerdict }

/** Feed `frames` into `guard` from `cursor` until the next caller's frame (inclusive); that frame's verdict. */
export function step (guard: Guard, frames: Frames, cursor: { at: number }): EchoVerdict | undefined {
  return judge(guard, frames, cursor)?.verdict
}

/** step(), with the caller's frame judged (what the VAD behind the guard gets unless it is echo). */
export function judge (guard: Guard, frames: Frames, cursor: { at: number }): { verdict: EchoVerdict, samples: Int16Array } | undefined {
  for (; cursor.at < frames.events.length; cursor.at++) {
    const e = frames.events[cursor.at]
    if (e === undefined) break
    if (e.out) { guard.noteOutbound(e.samples, e.atMs); continue }
    cursor.at++
    return { verdict: guard.inbound(e.samples, e.atMs), samples: e.samples }
  }
  return undefined
}
