/**
 * Scores one rendered scenario of the echo set (bench/echo-set.ts) the way barge-in sees it:
 * the VAD the barge-in watcher uses (it starts at `pauseAfterMs` of voice, which pauses the
 * agent; `minSpeechMs` of voice confirms), fed with the caller's frames as they are, or with
 * silence for the frames the echo guard calls echo-only. A speech start outside the caller's
 * real speech is a false barge-in; a real barge-in is kept when the VAD starts during it. The
 * same scenario without echo (VAD alone) tells which barge-ins were detectable at all.
 */
import { bargeInSchema } from '../lib/media/stream/turn-taking.ts'
import { Vad } from '../lib/media/vad/index.ts'
import { EchoGuard, type EchoLineInfo, type EchoVerdict } from '../lib/media/echo.ts'
import { render, RATE, type RenderedScenario, type Scenario } from './echo-set.ts'

const BARGE_IN = bargeInSchema.parse({})
/** The VAD's end silence while the agent speaks (the watcher's candidate pause). */
const END_SILENCE_MS = 300
const SILENCE = new Int16Array(RATE / 50)

export interface Starts {
  /** Speech starts that pause the agent (pauseAfterMs of voice), outside the caller's speech. */
  readonly falsePauses: readonly number[]
  /** Speech starts with minSpeechMs of voice (a confirmed barge-in), outside the caller's speech. */
  readonly falseBargeIns: readonly number[]
  /** The first start (pause) during the caller's speech: when it was detected (ms), if any. */
  readonly keptAt: number | undefined
}

export interface ScenarioScore {
  readonly scenario: Scenario
  readonly vad: Starts
  readonly guarded: Starts
  /** For a barge-in: the VAD alone on the same line without echo. */
  readonly control?: Starts
  readonly line: EchoLineInfo
  /** Frames the guard called echo-only, and how many of them held the caller's speech. */
  readonly echoOnlyFrames: number
  readonly echoOnlyDuringSpeech: number
  /** Inbound frames while our output could be echoing, and the guard's time on them (ns). */
  readonly activeFrames: number
  readonly activeNs: number
  readonly idleFrames: number
  readonly idleNs: number
  readonly outboundFrames: number
  readonly outboundNs: number
  /** With a reference guard: the caller's frames whose verdict differs from the reference's (any field). */
  readonly referenceMismatches?: number
  /** With a reference guard: the VAD's starts behind it. */
  readonly reference?: Starts
}

/** What scoring needs of a guard: today's, or a reference copy to compare its verdicts with. */
export interface GuardLike {
  noteOutbound (samples: Int16Array, sentAtMs: number): void
  inbound (samples: Int16Array, atMs: number): EchoVerdict
}

function vads (): { pause: Vad, confirm: Vad } {
  return {
    pause: new Vad({ rate: RATE, minSpeechMs: BARGE_IN.pauseAfterMs, endSilenceMs: END_SILENCE_MS }),
    confirm: new Vad({ rate: RATE, minSpeechMs: BARGE_IN.minSpeechMs, endSilenceMs: END_SILENCE_MS }),
  }
}

class StartCounter {
  readonly #v = vads()
  readonly #speech: RenderedScenario['speech']
  readonly falsePauses: number[] = []
  readonly falseBargeIns: number[] = []
  keptAt: number | undefined

  constructor (speech: RenderedScenario['speech']) { this.#speech = speech }

  push (samples: Int16Array, mediaMs: number): void {
    const a = this.#v.pause.push(samples, mediaMs)
    const b = this.#v.confirm.push(samples, mediaMs)
    if (a?.type === 'speech-start') {
      if (this.#during(a.at)) this.keptAt ??= a.detectedAt
      else this.falsePauses.push(a.at)
    }
    if (b?.type === 'speech-start' && !this.#during(b.at)) this.falseBargeIns.push(b.at)
  }

  /** Within the caller's speech (its first voiced frame may come a little before the clip's level bound). */
  #during (at: number): boolean {
    const s = this.#speech
    return s !== undefined && at >= s.startMs - 100 && at <= s.endMs + 100
  }

  get starts (): Starts { return { falsePauses: this.falsePauses, falseBargeIns: this.falseBargeIns, keptAt: this.keptAt } }
}

export function scoreScenario (scenario: Scenario): ScenarioScore {
  return scoreAgainst(scenario, undefined)
}

/**
 * scoreScenario, with `reference()`'s guard fed alongside and its verdicts compared; `make` gives
 * the guard scored (today's by default).
 */
export function scoreAgainst (scenario: Scenario, reference: (() => GuardLike) | undefined, make: () => GuardLike & { readonly line: EchoLineInfo } = () => new EchoGuard({ rate: RATE })): ScenarioScore {
  const r = render(scenario)
  const guard = make()
  const ref = reference === undefined ? undefined : reference()
  let referenceMismatches = 0
  const plain = new StartCounter(r.speech)
  const guarded = new StartCounter(r.speech)
  const behindRef = ref === undefined ? undefined : new StartCounter(r.speech)
  let o = 0
  let echoOnlyFrames = 0
  let echoOnlyDuringSpeech = 0
  let activeFrames = 0
  let activeNs = 0
  let idleFrames = 0
  let idleNs = 0
  let outboundNs = 0
  for (const f of r.inbound) {
    // Everything sent before this frame arrived has been noted (the endpoint's tick runs first).
    while (o < r.outbound.length && (r.outbound[o]?.sentAtMs ?? Infinity) <= f.atMs) {
      const out = r.outbound[o++]
      if (out === undefined) break
      const t0 = process.hrtime.bigint()
      guard.noteOutbound(out.samples, out.sentAtMs)
      outboundNs += Number(process.hrtime.bigint() - t0)
      ref?.noteOutbound(out.samples, out.sentAtMs)
    }
    const t0 = process.hrtime.bigint()
    const verdict = guard.inbound(f.samples, f.atMs)
    const ns = Number(process.hrtime.bigint() - t0)
    const v = ref?.inbound(f.samples, f.atMs)
    if (v !== undefined && (v.echoOnly !== verdict.echoOnly || v.echoShare !== verdict.echoShare || v.doubleTalk !== verdict.doubleTalk)) referenceMismatches++
    if (v !== undefined) behindRef?.push(v.echoOnly ? SILENCE : f.samples, f.mediaMs)
    if (verdict.echoShare > 0 || verdict.echoOnly || verdict.doubleTalk) { activeFrames++; activeNs += ns } else { idleFrames++; idleNs += ns }
    plain.push(f.samples, f.mediaMs)
    guarded.push(verdict.echoOnly ? SILENCE : f.samples, f.mediaMs)
    if (verdict.echoOnly) {
      echoOnlyFrames++
      if (r.speech !== undefined && f.mediaMs >= r.speech.startMs && f.mediaMs < r.speech.endMs) echoOnlyDuringSpeech++
    }
  }
  let control: Starts | undefined
  if (scenario.caller !== undefined) {
    const clean = render({ ...scenario, echo: { ...scenario.echo, attenuationDb: 200 } })
    const c = new StartCounter(clean.speech)
    for (const f of clean.inbound) c.push(f.samples, f.mediaMs)
    control = c.starts
  }
  return {
    scenario,
    vad: plain.starts,
    guarded: guarded.starts,
    ...(control === undefined ? {} : { control }),
    line: guard.line,
    echoOnlyFrames,
    echoOnlyDuringSpeech,
    activeFrames,
    activeNs,
    idleFrames,
    idleNs,
    outboundFrames: r.outbound.length,
    outboundNs,
    ...(behindRef === undefined ? {} : { referenceMismatches, reference: behindRef.starts }),
  }
}

/** summarise() of the reference guard's starts (scores from scoreAgainst with a reference). */
export function summariseReference (scores: readonly ScenarioScore[]): Summary {
  return summarise(scores.map((s) => ({ ...s, guarded: s.reference ?? s.guarded })))
}

/** A false start that falls on the caller's DTMF (a tone's first, partial frame reads as voiced). */
export function onDtmf (s: Scenario, at: number): boolean {
  if (s.dtmf === undefined) return false
  const end = s.dtmf.atMs + s.dtmf.digits.length * 180
  return at >= s.dtmf.atMs - 40 && at <= end + 40
}

export interface Summary {
  readonly scenarios: number
  readonly echoScenarios: number
  /** False pauses / confirmed false barge-ins, VAD alone and with the guard, excluding DTMF onsets. */
  readonly falsePauses: { vad: number, guarded: number }
  readonly falseBargeIns: { vad: number, guarded: number }
  /** Starts on DTMF onsets (the VAD's, with or without echo). */
  readonly dtmfStarts: { vad: number, guarded: number }
  readonly bargeIns: number
  /** Barge-ins the VAD finds on the same line without echo, and how many of those the guarded VAD keeps. */
  readonly detectable: number
  readonly kept: number
  /** The guarded VAD's detection time minus the echo-free VAD's, ms, per kept barge-in. */
  readonly extraDelays: readonly number[]
  readonly activeUsPerFrame: number
  readonly idleUsPerFrame: number
  readonly outboundUsPerFrame: number
}

export function summarise (scores: readonly ScenarioScore[]): Summary {
  const count = (pick: (s: ScenarioScore) => readonly number[], dtmf: boolean): number =>
    scores.reduce((n, s) => n + pick(s).filter((at) => onDtmf(s.scenario, at) === dtmf).length, 0)
  const bargeIns = scores.filter((s) => s.scenario.caller !== undefined)
  const detectable = bargeIns.filter((s) => s.control?.keptAt !== undefined)
  const kept = detectable.filter((s) => s.guarded.keptAt !== undefined)
  const sum = (f: (s: ScenarioScore) => number): number => scores.reduce((a, s) => a + f(s), 0)
  return {
    scenarios: scores.length,
    echoScenarios: scores.filter((s) => s.scenario.echo.attenuationDb < 100).length,
    falsePauses: { vad: count((s) => s.vad.falsePauses, false), guarded: count((s) => s.guarded.falsePauses, false) },
    falseBargeIns: { vad: count((s) => s.vad.falseBargeIns, false), guarded: count((s) => s.guarded.falseBargeIns, false) },
    dtmfStarts: { vad: count((s) => s.vad.falsePauses, true), guarded: count((s) => s.guarded.falsePauses, true) },
    bargeIns: bargeIns.length,
    detectable: detectable.length,
    kept: kept.length,
    extraDelays: kept.map((s) => (s.guarded.keptAt ?? 0) - (s.control?.keptAt ?? 0)),
    activeUsPerFrame: sum((s) => s.activeNs) / Math.max(1, sum((s) => s.activeFrames)) / 1000,
    idleUsPerFrame: sum((s) => s.idleNs) / Math.max(1, sum((s) => s.idleFrames)) / 1000,
    outboundUsPerFrame: sum((s) => s.outboundNs) / Math.max(1, sum((s) => s.outboundFrames)) / 1000,
  }
}
