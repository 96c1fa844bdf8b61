/**
 * Turn-taking benchmark (issue 14's goals), in one process against the simulator, with the
 * provider fakes at fixed latencies: STT 100 ms, LLM first token 150 ms, TTS 100 ms.
 *
 *   node --import tsx bench/turn-taking.ts
 *
 * Measures, from the caller's side (what the simulated caller hears):
 * - end of speech -> first agent audio on a finished sentence, adaptive endpointing on and off;
 * - barge-in: speech onset -> our output paused;
 * - mid-thought pauses after a trailing word (600-1000 ms): cut off or not;
 * - backchannels over a reply: resumed without loss or not.
 * Writes its section of BENCHMARKS.md between `turn-taking` markers.
 */
import { rmSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Test } from 'tap'
import { FakeFreeSwitch, type WriteTimer } from '../lib/simulator/index.ts'
import { encodeWav } from '../lib/media/wav.ts'
import { speechLike } from '../test/media-stream/signals.ts'
import { CALLER, CHAT, DID, STT, chatRequests, reply, startRig, transcript, type ConversationRig } from '../test/conversation/helpers.ts'
import { spliceSection } from './sections.ts'
import { COLD, FAKE, OLD_FAKES, poolBeforeCall, slowTts, streamingTts, ttsFake, ttsLateness, ttsTiming } from './turn-taking-fakes.ts'

const LONG = 'Allora, le spiego con calma tutte le opzioni che abbiamo a disposizione per questo servizio, una per una. '

type Log = (line: string) => void

const textArg = (name: string): string | undefined => process.argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3)
const timerArg = (name: string): WriteTimer | undefined => {
  const v = textArg(name)
  if (v !== undefined && v !== 'matrix' && v !== 'timerfd') throw new Error(`--${name}: matrix or timerfd`)
  return v
}
/**
 * `--write-timer=timerfd|matrix`: the simulated FreeSWITCH's RTP write timer (lib/simulator/ear.ts).
 * Default timerfd, what a Linux build of FreeSWITCH uses unless switch.conf says otherwise: the
 * figures are then the real default switch's (the simulator's own default, for tests, is the
 * stricter matrix). `--agent-timer=timerfd|matrix`: what the agent is told the switch uses
 * (`media.stream.writeTimer`; default the config's).
 */
const SIM_TIMER: WriteTimer = timerArg('write-timer') ?? 'timerfd'
const AGENT_TIMER = timerArg('agent-timer')
const FLAGS = [`--write-timer=${SIM_TIMER}`, ...(AGENT_TIMER === undefined ? [] : [`--agent-timer=${AGENT_TIMER}`])].join(' ')

function voice (atMs: number, ms: number, f0 = 140): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0 }) }) }
}

/** How late the TTS stub's own 100 ms timer fired, per renderns and asserts at settle time. */
function harness (): { t: Test, close: () => Promise<void> } {
  const teardowns: Array<() => unknown> = []
  const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) }, equal: () => true } as unknown as Test
  return { t, close: async () => { for (const fn of teardowns.reverse()) await fn() } }
}

async function withRig<T> (options: Record<string, unknown>, fn: (rig: ConversationRig) => Promise<T>): Promise<T> {
  const stream = AGENT_TIMER === undefined ? options : { ...options, writeTimer: AGENT_TIMER }
  const h = harness()
  const dirs: string[] = []
  try {
    const rig = OLD_FAKES
      ? await startRig(h.t, { media: { mode: 'stream', stream }, wrapSpeaker: slowTts })
      : await startRig(h.t, { media: { mode: 'stream', stream }, wrapSpeaker: () => streamingTts(dirs), keepAlive: true })
    if (!OLD_FAKES) await poolBeforeCall(rig.fake.baseUrl)
    return await fn(rig)
  } finally {
    await h.close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
}

const percentile = (values: number[], p: number): number => {
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
interface FirstFrame { readonly arrived: number, readonly wire: number, readonly heard: number }

/** The turn's marks the run's TTS offset delayed (the frame's own times come corrected in `first`). */
const AFTER_TTS = new Set<string>(['ttsYielded', 'ttsAudioAt', 'firstFrameAt'])

function breakdown (rig: ConversationRig, endWall: number, first: FirstFrame, ttsOffset: number): Breakdown {
  const logAt = (msg: string): number | undefined => {
    const l = rig.logs.find((x) => x.msg === msg)
    return typeof l?.time === 'number' ? l.time : undefined
  }
  const marks = rig.store.calls[0]?.latency.find((l) => l.turn === 1)
  const abs: Record<string, number | undefined> = {
    shortPause: logAt('short pause: recognising the words so far'),
    preempted: logAt('words finished at a short pause: preemptive reply'),
    paused: logAt('caller paused'),
    ...marks,
    // When the fakes received the requests.
    sttRequest: rig.fake.requests.find((r) => r.path === STT)?.at,
    ttsRequest: ttsFake.asked,
    ttsYielded: ttsFake.yielded,
    llmRequest: rig.fake.requests.find((r) => r.path === CHAT)?.at,
    arrived: endWall + first.arrived,
    wire: endWall + first.wire,
    heard: endWall + first.heard,
  }
  const out: Breakdown = {}
  for (const k of STAGES) { const v = abs[k]; if (v !== undefined && Number.isFinite(v)) out[k] = v - endWall - (AFTER_TTS.has(k) ? ttsOffset : 0) }
  return out
}

/** End of speech -> first agent audio, for a finished sentence. */
async function firstAudio (runs: number, stream: Record<string, unknown>, stages?: Breakdown[]): Promise<FirstFrame[]> {
  const out: FirstFrame[] = []
  for (let i = 0; i < runs; i++) {
    // Spread over the 20 ms tick: 0, 7, 14, 1, 8, 15, ... (the warm-up call: 0).
    const offset = stages === undefined && runs === 1 ? 0 : (i * 7) % 20
    ttsTiming.offsetMs = offset
    out.push(await withRig(stream, async (rig) => {
      rig.fake.reply(STT, { ...transcript('Vorrei un appuntamento.'), delayMs: FAKE.sttMs })
      // First token after 150 ms, then the rest of the stream at once (a few ms apart).
      rig.fake.reply(CHAT, { ...reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }), firstDelayMs: FAKE.llmFirstTokenMs, delayMs: 2 })
      const speechEnd = 500 + 800
      // The canned phrases were synthesised when the rig started: the call's first request is the reply's.
      delete ttsFake.asked
      delete ttsFake.yielded
      const call = new FakeFreeSwitch({ writeTimer: SIM_TIMER }).placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 800)] } })
      await call.ended
      // The call's timeline on the wall clock (the simulator's clock is Date.now() - its start,
      // set when our `connect` was answered: read it now, not when the call was placed).
      const t0 = Date.now() - call.nowMs
      const frame = call.ear.firstHeard(speechEnd, 200)
      const first: FirstFrame = frame === undefined
        ? { arrived: NaN, wire: NaN, heard: NaN }
        : { arrived: frame.arrivalMs - speechEnd - offset, wire: frame.writtenMs - speechEnd - offset, heard: frame.playMs - speechEnd - offset }
      stages?.push(breakdown(rig, t0 + speechEnd, first, offset))
      const discarded = rig.logs.filter((l) => l.msg === 'preemptive reply discarded').length
      if (process.env.BENCH_VERBOSE !== undefined) process.stderr.write(`bench: run ${i + 1}: heard ${Math.round(first.heard)} ms, on the wire ${Math.round(first.wire)} ms, at FreeSWITCH ${Math.round(first.arrived)} ms, ${chatRequests(rig.fake).length} model requests, ${discarded} discarded\n`)
      return first
    }))
  }
  ttsTiming.offsetMs = 0
  return out
}

/** Speech onset over a reply -> our output paused. */
async function bargeInPause (runs: number, detected?: number[]): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < runs; i++) {
    out.push(await withRig({}, async (rig) => {
      rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Basta così.'))
      rig.fake.reply(CHAT, reply([LONG, LONG, LONG, LONG, LONG, LONG]), reply('Va bene.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
      const call = new FakeFreeSwitch({ writeTimer: SIM_TIMER }).placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)], hangupAtMs: 20_000 } })
      let at: number | undefined
      const watcher = setInterval(() => {
        const start = call.ear.firstHeard(1800, 200)
        if (at === undefined && start !== undefined && call.nowMs > start.playMs + 300) { at = call.nowMs + 20; call.say(at, voice(0, 1200, 180).wav) }
      }, 10)
      await call.ended
      const t0 = Date.now() - call.nowMs
      clearInterval(watcher)
      if (at === undefined) return NaN
      // When the server paused its output (its log), on the call's timeline.
      const paused = rig.logs.find((l) => l.msg === 'caller speech over the agent: paused')?.time
      if (typeof paused === 'number') detected?.push(paused - t0 - at)
      const heard = (call.ear.lastHeardEndMs(at + 700, 200) ?? NaN) - at
      if (process.env.BENCH_VERBOSE !== undefined) process.stderr.write(`bench: run ${i + 1}: paused after ${typeof paused === 'number' ? Math.round(paused - t0 - at) : '?'} ms, last heard ${Math.round(heard)} ms\n`)
      return heard
    }))
  }
  return out
}

/** A pause of `pauseMs` after "e": one turn (kept) or two (cut off). */
async function midThought (pauseMs: number): Promise<boolean> {
  return await withRig({}, async (rig) => {
    rig.fake.reply(STT, transcript('Vorrei sapere il prezzo e'), transcript('Vorrei sapere il prezzo e gli orari.'))
    rig.fake.reply(CHAT, reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }), reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
    const call = new FakeFreeSwitch({ writeTimer: SIM_TIMER }).placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(1500, 800), voice(2300 + pauseMs, 700, 150)], hangupAtMs: 20_000 } })
    await call.ended
    return rig.store.calls[0]!.turns.filter((x) => x.role === 'caller').length === 1
  })
}

/** "Sì" over a reply: the agent pauses and goes on, nothing lost. */
async function backchannel (): Promise<boolean> {
  return await withRig({}, async (rig) => {
    rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Sì.'))
    rig.fake.reply(CHAT, reply([LONG, LONG, LONG, LONG], { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
    const call = new FakeFreeSwitch({ writeTimer: SIM_TIMER }).placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)], hangupAtMs: 20_000 } })
    let said = false
    const watcher = setInterval(() => {
      const start = call.ear.firstHeard(1800, 200)
      if (!said && start !== undefined && call.nowMs > start.playMs + 300) { said = true; call.say(call.nowMs + 20, voice(0, 450, 180).wav) }
    }, 10)
    await call.ended
    clearInterval(watcher)
    const agent = rig.store.calls[0]!.turns.filter((x) => x.role === 'agent')
    return said && chatRequests(rig.fake).length === 1 && !agent.some((x) => x.interrupted === true)
  })
}

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

export type Part = 'first-audio' | 'barge-in' | 'mid-thought' | 'backchannels'
const PARTS: readonly Part[] = ['first-audio', 'barge-in', 'mid-thought', 'backchannels']

/** Runs the given parts (all by default); the others are left empty. */
export async function runTurnTakingBench (log: Log, parts: readonly Part[] = PARTS): Promise<TurnTakingResult> {
  const stages = { preempt: [] as Breakdown[], noPreempt: [] as Breakdown[] }
  // One call first, not counted: the first call of a process pays for module loading and JIT.
  log('turn-taking: warm-up call')
  await firstAudio(1, {})
  const r = { adaptive: [] as FirstFrame[], noPreempt: [] as FirstFrame[], fixed: [] as FirstFrame[], loop: { p50: NaN, p99: NaN, ttsLateP50: NaN }, pause: [] as number[], pauseDetected: [] as number[], midThought: [] as TurnTakingResult['midThought'], backchannels: { resumed: 0, runs: 0 } }
  if (parts.includes('first-audio')) {
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    ttsLateness.length = 0
    log('turn-taking: first audio, adaptive endpointing, preemptive replies')
    r.adaptive = await firstAudio(10, {}, stages.preempt)
    log('turn-taking: first audio, adaptive endpointing, no preemption')
    r.noPreempt = await firstAudio(10, { endpointing: { preemptive: false } }, stages.noPreempt)
    log('turn-taking: first audio, fixed 500 ms end silence')
    r.fixed = await firstAudio(10, { endpointing: { adaptive: false, preemptive: false }, vad: { endSilenceMs: 500 } })
    delay.disable()
    r.loop = { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, ttsLateP50: percentile(ttsLateness, 50) }
  }
  if (parts.includes('barge-in')) {
    log('turn-taking: barge-in pause')
    r.pause = await bargeInPause(10, r.pauseDetected)
  }
  if (parts.includes('mid-thought')) {
    for (const pauseMs of [600, 800, 1000]) {
      log(`turn-taking: mid-thought pause ${pauseMs} ms`)
      let kept = 0
      for (let i = 0; i < 3; i++) if (await midThought(pauseMs)) kept++
      r.midThought.push({ pauseMs, kept, runs: 3 })
    }
  }
  if (parts.includes('backchannels')) {
    log('turn-taking: backchannels')
    let resumed = 0
    for (let i = 0; i < 5; i++) if (await backchannel()) resumed++
    r.backchannels = { resumed, runs: 5 }
  }
  return { ...r, stages }
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

export function turnTakingSection (r: TurnTakingResult): string {
  const fixedLatency = FAKE.sttMs + FAKE.llmFirstTokenMs + FAKE.ttsMs
  const ms = (v: number): string => Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a'
  return [
    '<!-- turn-taking:begin -->',
    '## Turn-taking (conversation engine)',
    '',
    `Command: \`node --import tsx bench/turn-taking.ts ${FLAGS}${OLD_FAKES ? ' --old-fakes' : ''}${COLD ? ' --cold' : ''}${process.argv.includes('--no-preconnect') ? ' --no-preconnect' : ''}\`. One process (server, simulator and provider`,
    `fakes share the event loop), calls one after another. Fakes: STT ${FAKE.sttMs} ms, LLM first token`,
    `${FAKE.llmFirstTokenMs} ms, TTS ${FAKE.ttsMs} ms per sentence (plus 0-19 ms spread over the first-audio runs and subtracted`,
    'again, so replies land at every phase of the 20 ms write tick); the classic VAD (the test rig\'s). One',
    'warm-up call first, not counted. The machine is shared with other work: see the load average.',
    `The simulated FreeSWITCH writes on the ${SIM_TIMER} write timer${SIM_TIMER === 'timerfd' ? ' (Linux\'s default, as the real switch measured in docs/simulator.md)' : ' (the stricter model: a frame after two idle ticks waits for the next tick)'}; the agent is told ${AGENT_TIMER ?? 'its default (timerfd)'} (\`media.stream.writeTimer\`).`,
    OLD_FAKES
      ? 'With `--old-fakes`: a new connection per provider request, TTS rendered to a file and read back.'
      : COLD
        ? 'With `--cold`: each call starts with no connection to the fakes, as the first after 30 s without calls; the conversation pre-connects when the call starts (off with `--no-preconnect`).'
        : 'The STT and LLM fakes keep connections alive and the pool holds two idle ones before each call (a server that carries calls has them); the TTS fake streams 24 kHz PCM through the real speech cache, as a provider does in `serve`.',
    `Measured on ${new Date().toISOString()}${loadNote()}.`,
    '',
    '| measure | goal | p50 | p99 | runs |',
    '|---|---|---|---|---|',
    `| end of speech -> first agent audio heard, finished sentence, adaptive endpointing (250 ms), preemptive replies (100 ms) | ≤ 600 ms p50 | ${ms(p50(r.adaptive, 'heard'))} | ${ms(p99(r.adaptive, 'heard'))} | ${r.adaptive.length} |`,
    `| the same on the wire (FreeSWITCH writes the reply's first frame toward the caller) | | ${ms(p50(r.adaptive, 'wire'))} | ${ms(p99(r.adaptive, 'wire'))} | |`,
    `| overhead beyond the fakes (${fixedLatency} ms) after the 100 ms preemptive pause: heard / on the wire | ≤ 25 ms | ${ms(p50(r.adaptive, 'heard') - fixedLatency - 100)} / ${ms(p50(r.adaptive, 'wire') - fixedLatency - 100)} | | |`,
    `| media alignment: the reply's audio ready -> written by FreeSWITCH / -> heard (preemptive runs) | ≤ 20 ms p50 (issue 18) | ${ms(stageDiff(r.stages.preempt, 'ttsAudioAt', 'wire', 50))} / ${ms(stageDiff(r.stages.preempt, 'ttsAudioAt', 'heard', 50))} | ${ms(stageDiff(r.stages.preempt, 'ttsAudioAt', 'wire', 99))} / ${ms(stageDiff(r.stages.preempt, 'ttsAudioAt', 'heard', 99))} | |`,
    `| the same without preemption: heard / on the wire | | ${ms(p50(r.noPreempt, 'heard'))} / ${ms(p50(r.noPreempt, 'wire'))} | ${ms(p99(r.noPreempt, 'heard'))} / ${ms(p99(r.noPreempt, 'wire'))} | ${r.noPreempt.length} |`,
    `| overhead beyond the fakes (${fixedLatency} ms) and the 250 ms silence, without preemption: heard / on the wire | ≤ 25 ms | ${ms(p50(r.noPreempt, 'heard') - fixedLatency - 250)} / ${ms(p50(r.noPreempt, 'wire') - fixedLatency - 250)} | | |`,
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
    'both sides. In one process the fakes and the simulator share the server\'s event loop, so the',
    'overhead is an upper bound: during the first-audio runs the loop\'s delay was',
    `${ms(r.loop.p50)} p50 / ${ms(r.loop.p99)} p99, and the TTS stub\'s own 100 ms timer fired ${ms(r.loop.ttsLateP50)} late (p50);`,
    'that lateness is left inside the figures above, not subtracted. "On the wire" is when the',
    'simulated FreeSWITCH writes the reply\'s first frame toward the caller (its RTP write timer: one',
    'frame per 20 ms tick); "heard" is when the caller starts hearing it, after any frame already in',
    'play: FreeSWITCH stamps each frame it writes from its write timer (switch_rtp.c',
    'get_next_write_ts) and the phone plays them in timestamp order, so a reply that follows idle',
    'silence waits for the silence frame in play (0-20 ms, 10 on average). Told the switch runs',
    'timerfd (`media.stream.writeTimer`, the default) the agent sends no idle silence but a keep-alive',
    'a second, so nothing is in play and heard is on the wire. With preemption the model is asked at the 100 ms pause and',
    'the end of the turn (250 ms) only releases what is already under way: the critical path is the',
    'preemptive pause, STT, LLM and TTS. The end of turn is declared on the caller\'s frame that',
    'completes the 250 ms of silence, which arrives 260 ms after the end of speech: the caller\'s',
    'audio comes in 20 ms frames. Barge-in pause is measured to the last agent frame the caller heard.',
    '<!-- turn-taking:end -->',
  ].join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFile, writeFile } = await import('node:fs/promises')
  const log: Log = (line) => { process.stderr.write(`bench: ${line}\n`) }
  // `--barge-in` (or any part's name) runs only those parts and writes nothing.
  const only = PARTS.filter((p) => process.argv.includes(`--${p}`))
  const result = await runTurnTakingBench(log, only.length > 0 ? only : PARTS)
  if (only.length > 0) {
    process.stdout.write(`${turnTakingSection(result)}\n`)
    process.exit(0)
  }
  const file = new URL('../BENCHMARKS.md', import.meta.url)
  const doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n')
  await writeFile(file, spliceSection(doc, 'turn-taking', turnTakingSection(result)))
  log('section written to BENCHMARKS.md')
  process.stdout.write(`${turnTakingSection(result)}\n`)
}
