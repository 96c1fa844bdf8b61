/**
 * The turn-taking bench's section of BENCHMARKS.md (bench/turn-taking.ts runs it): the result's
 * types, its percentiles and the text around them.
 */
import { cpus, loadavg } from 'node:os'
import type { WriteTimer } from '../lib/simulator/index.ts'
import { COLD, FAKE, OLD_FAKES } from './turn-taking-fakes.ts'

/** How the run was set up, as the section states it. */
export interface SectionSetup {
  /** The command's flags. */
  readonly flags: string
  readonly simTimer: WriteTimer
  readonly agentTimer: WriteTimer | undefined
  /** `endpointing.minSilenceMs` of the first-audio runs. */
  readonly minSilence: number
  /** Set when the fakes ran in a child process. */
  readonly child: { readonly pinned: boolean } | undefined
}

export const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))] ?? NaN
}

/**
 * Where the time goes, ms after the caller's real end of speech (wall clock), per run: the
 * preemptive pause, the end of turn reported by the VAD (and the end of speech it estimated),
 * then the turn's latency marks, then the first agent frame the caller heard.
 */
export const STAGES = ['shortPause', 'sttRequest', 'preempted', 'paused', 'speechEndAt', 'sttFinalAt', 'llmRequest', 'llmFirstTokenAt', 'firstSentenceAt', 'ttsRequest', 'ttsYielded', 'ttsAudioAt', 'firstFrameAt', 'arrived', 'wire', 'heard'] as const
export type Breakdown = Partial<Record<typeof STAGES[number], number>>

/** The reply's first frame at FreeSWITCH, ms after the caller's end of speech: reached it, written toward the caller, heard. */
export interface FirstFrame { readonly arrived: number, readonly wire: number, readonly heard: number }

export interface TurnTakingResult {
  /** Adaptive endpointing with preemptive replies (the defaults). */
  readonly adaptive: FirstFrame[]
  /** Adaptive endpointing, preemptive replies off. */
  readonly noPreempt: FirstFrame[]
  readonly fixed: FirstFrame[]
  /** The one process's event-loop delay during the first-audio runs (ms), and the TTS stub's timer lateness. */
  readonly loop: { readonly p50: number, readonly p99: number, readonly ttsLateP50: number }
  /** Per-stage breakdowns of the two adaptive runs. */
  readonly stages: { readonly preempt: Breakdown[], readonly noPreempt: Breakdown[] }
  readonly pause: number[]
  /** Speech onset -> the server paused its output (its log), on the call's timeline. */
  readonly pauseDetected: number[]
  readonly midThought: Array<{ pauseMs: number, kept: number, runs: number }>
  readonly backchannels: { resumed: number, runs: number }
}

/** Median of each stage, ms after the caller's end of speech. */
export function stageTable (stages: TurnTakingResult['stages']): string[] {
  const ms = (v: number): string => Number.isFinite(v) ? `${Math.round(v)}` : ''
  const median = (list: Breakdown[], k: typeof STAGES[number]): number => {
    const values = list.map((b) => b[k]).filter((v): v is number => v !== undefined)
    return values.length === 0 ? NaN : percentile(values, 50)
  }
  const what: Record<typeof STAGES[number], string> = {
    shortPause: 'preemptive pause (100 ms of silence) seen: the recogniser is finished',
    preempted: 'words recognised and finished: the model is asked',
    paused: 'end of turn reported by the VAD',
    speechEndAt: 'end of speech as the VAD estimated it',
    sttFinalAt: 'transcript used by the turn',
    sttRequest: 'the STT fake received the audio',
    llmRequest: 'the LLM fake received the request',
    llmFirstTokenAt: 'first model token used by the turn',
    firstSentenceAt: 'first sentence split',
    ttsRequest: 'the TTS fake was asked for it',
    ttsYielded: 'the TTS fake yielded its audio (after its 100 ms)',
    ttsAudioAt: 'first sentence\'s audio ready',
    firstFrameAt: 'first frame handed to the socket',
    arrived: 'first frame reached FreeSWITCH (the simulator read it)',
    wire: 'first frame written toward the caller (FreeSWITCH\'s RTP write timer)',
    heard: 'first agent audio the caller heard (after the frame in play)',
  }
  return [
    '| stage (p50, ms after the caller\'s end of speech) | preemptive | not preemptive |',
    '|---|---|---|',
    ...STAGES.map((k) => `| ${what[k]} | ${ms(median(stages.preempt, k))} | ${ms(median(stages.noPreempt, k))} |`),
  ]
}

/** The 1-minute load average when the module was loaded (the run's start). */
const START_LOAD = loadavg()[0] ?? NaN

function loadNote (): string {
  const [one, five] = loadavg()
  return `, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, load average ${START_LOAD.toFixed(1)} (1 min) at the start, ${one?.toFixed(1)} (1 min) / ${five?.toFixed(1)} (5 min) at the end`
}

const p50 = (runs: readonly FirstFrame[], k: keyof FirstFrame): number => percentile(runs.map((f) => f[k]).filter(Number.isFinite), 50)
const p99 = (runs: readonly FirstFrame[], k: keyof FirstFrame): number => percentile(runs.map((f) => f[k]).filter(Number.isFinite), 99)

/** A percentile of `to - from` over the runs that have both stages. */
function stageDiff (list: readonly Breakdown[], from: typeof STAGES[number], to: typeof STAGES[number], p: number): number {
  const values = list.flatMap((b) => b[from] !== undefined && b[to] !== undefined ? [(b[to] as number) - (b[from] as number)] : [])
  return values.length === 0 ? NaN : percentile(values, p)
}

export function turnTakingSection (r: TurnTakingResult, s: SectionSetup): string {
  const fixedLatency = FAKE.sttMs + FAKE.llmFirstTokenMs + FAKE.ttsMs
  // The caller's audio comes in 20 ms frames and the VAD adds a frame's length per silent frame,
  // so a silence that is not a multiple of 20 ms is waited for up to the next multiple.
  const waited = Math.ceil(s.minSilence / 20) * 20
  const ms = (v: number): string => Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a'
  return [
    '<!-- turn-taking:begin -->',
    '## Turn-taking (conversation engine)',
    '',
    `Command: \`node --import tsx bench/turn-taking.ts ${s.flags}${OLD_FAKES ? ' --old-fakes' : ''}${COLD ? ' --cold' : ''}${process.argv.includes('--no-preconnect') ? ' --no-preconnect' : ''}\`. ${s.child === undefined ? 'One process (server, simulator and provider fakes share the event loop)' : `The provider fakes, and the simulator of the first-audio runs, in a child process${s.child.pinned ? ' (pinned to CPU 1, the server to CPU 0)' : ''}`},`,
    `calls one after another. Fakes: STT ${FAKE.sttMs} ms, LLM first token`,
    `${FAKE.llmFirstTokenMs} ms, TTS ${FAKE.ttsMs} ms per sentence (plus 0-19 ms spread over the first-audio runs and subtracted`,
    'again, so replies land at every phase of the 20 ms write tick); the classic VAD (the test rig\'s). One',
    'warm-up call first, not counted. The machine is shared with other work: see the load average.',
    `The simulated FreeSWITCH writes on the ${s.simTimer} write timer${s.simTimer === 'timerfd' ? ' (Linux\'s default, as the real switch measured in docs/simulator.md)' : ' (the stricter model: a frame after two idle ticks waits for the next tick)'}; the agent is told ${s.agentTimer ?? 'its default (timerfd)'} (\`media.stream.writeTimer\`).`,
    OLD_FAKES
      ? 'With `--old-fakes`: a new connection per provider request, TTS rendered to a file and read back.'
      : COLD
        ? 'With `--cold`: each call starts with no connection to the fakes, as the first after 30 s without calls; the conversation pre-connects when the call starts (off with `--no-preconnect`).'
        : 'The STT and LLM fakes keep connections alive and the pool holds two idle ones before each call (a server that carries calls has them); the TTS fake streams 24 kHz PCM through the real speech cache, as a provider does in `serve`.',
    `Measured on ${new Date().toISOString()}${loadNote()}.`,
    '',
    '| measure | goal | p50 | p99 | runs |',
    '|---|---|---|---|---|',
    `| end of speech -> first agent audio heard, finished sentence, adaptive endpointing (${s.minSilence} ms), preemptive replies (100 ms) | ≤ 600 ms p50 | ${ms(p50(r.adaptive, 'heard'))} | ${ms(p99(r.adaptive, 'heard'))} | ${r.adaptive.length} |`,
    `| the same on the wire (FreeSWITCH writes the reply's first frame toward the caller) | | ${ms(p50(r.adaptive, 'wire'))} | ${ms(p99(r.adaptive, 'wire'))} | |`,
    `| overhead beyond the fakes (${fixedLatency} ms) after the 100 ms preemptive pause: heard / on the wire | ≤ 25 ms | ${ms(p50(r.adaptive, 'heard') - fixedLatency - 100)} / ${ms(p50(r.adaptive, 'wire') - fixedLatency - 100)} | | |`,
    `| media alignment: the reply's audio ready -> written by FreeSWITCH / -> heard (preemptive runs) | ≤ 20 ms p50 (issue 18) | ${ms(stageDiff(r.stages.preempt, 'ttsAudioAt', 'wire', 50))} / ${ms(stageDiff(r.stages.preempt, 'ttsAudioAt', 'heard', 50))} | ${ms(stageDiff(r.stages.preempt, 'ttsAudioAt', 'wire', 99))} / ${ms(stageDiff(r.stages.preempt, 'ttsAudioAt', 'heard', 99))} | |`,
    `| the same without preemption: heard / on the wire | | ${ms(p50(r.noPreempt, 'heard'))} / ${ms(p50(r.noPreempt, 'wire'))} | ${ms(p99(r.noPreempt, 'heard'))} / ${ms(p99(r.noPreempt, 'wire'))} | ${r.noPreempt.length} |`,
    `| overhead beyond the fakes (${fixedLatency} ms) and the ${s.minSilence} ms silence, without preemption: heard / on the wire | ≤ 25 ms | ${ms(p50(r.noPreempt, 'heard') - fixedLatency - s.minSilence)} / ${ms(p50(r.noPreempt, 'wire') - fixedLatency - s.minSilence)} | | |`,
    ...(waited === s.minSilence
      ? []
      : [`| the same beyond the ${waited} ms the VAD waits (it counts silence in whole 20 ms frames: lib/media/vad/vad.ts) | | ${ms(p50(r.noPreempt, 'heard') - fixedLatency - waited)} / ${ms(p50(r.noPreempt, 'wire') - fixedLatency - waited)} | | |`]),
    `| the same with a fixed 500 ms end silence (before), heard | | ${ms(p50(r.fixed, 'heard'))} | ${ms(p99(r.fixed, 'heard'))} | ${r.fixed.length} |`,
    `| barge-in: speech onset -> our output paused (the last agent frame the caller heard) | ≤ 120 ms | ${ms(percentile(r.pause, 50))} | ${ms(percentile(r.pause, 99))} | ${r.pause.length} |`,
    `| of which: speech onset -> the server paused its output (\`pauseAfterMs\` 60 of voice) | | ${ms(percentile(r.pauseDetected, 50))} | ${ms(percentile(r.pauseDetected, 99))} | ${r.pauseDetected.length} |`,
    '',
    '| pause after a trailing word ("… e") | turns kept whole |',
    '|---|---|',
    ...r.midThought.map((m) => `| ${m.pauseMs} ms | ${m.kept} / ${m.runs} |`),
    '',
    `Backchannels ("sì") over a reply: resumed without loss in ${r.backchannels.resumed} / ${r.backchannels.runs} calls.`,
    '',
    'Where the time goes (the turn\'s latency marks and log times on the wall clock, against the',
    'caller\'s end of speech on the simulator\'s timeline):',
    '',
    ...stageTable(r.stages),
    '',
    'The first-audio time includes the VAD\'s detection delay and the simulator\'s 20 ms frame clocks on',
    ...(s.child === undefined
      ? ['both sides. In one process the fakes and the simulator share the server\'s event loop, so the',
          'overhead is an upper bound: during the first-audio runs the loop\'s delay was']
      : ['both sides. The fakes and the first-audio simulator run in their own process, so their parsing,',
          'timers and socket work are not on the server\'s loop; the loopback hops between the processes',
          'are still counted (a real provider\'s network time is its latency). During the first-audio runs the server\'s loop delay was']),
    `${ms(r.loop.p50)} p50 / ${ms(r.loop.p99)} p99, and the TTS stub\'s own 100 ms timer fired ${ms(r.loop.ttsLateP50)} late (p50);`,
    'that lateness is left inside the figures above, not subtracted. "On the wire" is when the',
    'simulated FreeSWITCH writes the reply\'s first frame toward the caller (its RTP write timer: one',
    'frame per 20 ms tick); "heard" is when the caller starts hearing it, after any frame already in',
    'play: FreeSWITCH stamps each frame it writes from its write timer (switch_rtp.c',
    'get_next_write_ts) and the phone plays them in timestamp order, so a reply that follows idle',
    'silence waits for the silence frame in play (0-20 ms, 10 on average). Told the switch runs',
    'timerfd (`media.stream.writeTimer`, the default) the agent sends no idle silence but a keep-alive',
    'a second, so nothing is in play and heard is on the wire. With preemption the model is asked at the 100 ms pause and',
    `the end of the turn (${s.minSilence} ms) only releases what is already under way: the critical path is the`,
    'preemptive pause, STT, LLM and TTS. The end of turn is declared on the caller\'s frame that',
    `completes the ${s.minSilence} ms of silence, which arrives ${waited} ms after the end of speech: the caller's`,
    'audio comes in 20 ms frames. Barge-in pause is measured to the last agent frame the caller heard.',
    '<!-- turn-taking:end -->',
  ].join('\n')
}

