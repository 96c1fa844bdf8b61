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
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Test } from 'tap'
import { FakeFreeSwitch, type WriteTimer } from '../lib/simulator/index.ts'
import { CALLER, CHAT, DID, STT, chatRequests, reply, startRig, transcript, type ConversationRig } from '../test/conversation/helpers.ts'
import { spliceSection } from './sections.ts'
import { voice } from './turn-taking-child.ts'
import { percentile, turnTakingSection, type Breakdown, type FirstFrame, type TurnTakingResult, STAGES } from './turn-taking-section.ts'
import { startRemoteRig, TurnTakingChild, type RemoteFake } from './turn-taking-remote.ts'
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
/** `--min-silence=N`: the end silence of a finished sentence (`endpointing.minSilenceMs`, default 250). */
const MIN_SILENCE = Number(textArg('min-silence') ?? 250)
const FLAGS = [`--write-timer=${SIM_TIMER}`, ...(AGENT_TIMER === undefined ? [] : [`--agent-timer=${AGENT_TIMER}`]), ...process.argv.filter((a) => a.startsWith('--min-silence=') || a === '--fakes-in-process' || a === '--no-pin' || a === '--no-fixed')].join(' ')

/**
 * The provider fakes and the first-audio runs' simulator run in a child process
 * (bench/turn-taking-child.ts, pinned to the other CPU with `taskset`), so their work is not
 * counted as ours; `--fakes-in-process` keeps them on the server's loop, as before 2026-12-02
 * 08:30 UTC, for comparison (`--old-fakes` implies it).
 */
const IN_PROCESS = OLD_FAKES || process.argv.includes('--fakes-in-process')
let CHILD: TurnTakingChild | undefined

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
    const media = { mode: 'stream', stream }
    const rig = OLD_FAKES
      ? await startRig(h.t, { media, wrapSpeaker: slowTts })
      : CHILD === undefined
        ? await startRig(h.t, { media, wrapSpeaker: () => streamingTts(dirs), keepAlive: true })
        : await startRemoteRig(CHILD, h.t, media, dirs, ttsTiming.offsetMs)
    if (!OLD_FAKES) await poolBeforeCall(rig.fake.baseUrl)
    if (CHILD !== undefined) await poolBeforeCall(CHILD.ttsUrl)
    return await fn(rig)
  } finally {
    await h.close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
}

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

/**
 * The first-audio call: the caller says a sentence ending at `speechEnd`. Returns the call's
 * timeline on the wall clock (the simulator's clock is Date.now() - its start, set when our
 * `connect` was answered: read once the call has ended) and the first agent frame heard.
 */
async function placeFirstAudioCall (rig: ConversationRig, speechEnd: number): Promise<{ t0: number, frame?: { arrivalMs: number, writtenMs: number, playMs: number } | undefined }> {
  if (CHILD !== undefined) {
    const r = await CHILD.call(rig.port, DID, CALLER, SIM_TIMER, speechEnd)
    await syncFakes(rig)
    return r
  }
  const call = new FakeFreeSwitch({ writeTimer: SIM_TIMER }).placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 800)] } })
  await call.ended
  return { t0: Date.now() - call.nowMs, frame: call.ear.firstHeard(speechEnd, 200) }
}

/** With the fakes in the child: what they received, read back into the rig's fake and `ttsFake`. */
async function syncFakes (rig: ConversationRig): Promise<void> {
  if (CHILD === undefined) return
  const seen = await CHILD.sync(rig.fake as unknown as RemoteFake)
  Object.assign(ttsFake, { asked: seen.ttsAsked, yielded: seen.ttsYielded })
  ttsLateness.push(...seen.ttsLateMs)
}

/** End of speech -> first agent audio, for a finished sentence. */
async function firstAudio (runs: number, stream: Record<string, unknown>, stages?: Breakdown[], from = 0): Promise<FirstFrame[]> {
  const out: FirstFrame[] = []
  for (let i = from; i < from + runs; i++) {
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
      await CHILD?.reset(offset)
      const { t0, frame } = await placeFirstAudioCall(rig, speechEnd)
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
    await syncFakes(rig)
    const agent = rig.store.calls[0]!.turns.filter((x) => x.role === 'agent')
    if (process.env.BENCH_VERBOSE !== undefined) process.stderr.write(`bench: backchannel: said ${String(said)}, ${chatRequests(rig.fake).length} model requests, ${agent.filter((x) => x.interrupted === true).length} interrupted turns\n`)
    return said && chatRequests(rig.fake).length === 1 && !agent.some((x) => x.interrupted === true)
  })
}

export type Part = 'first-audio' | 'barge-in' | 'mid-thought' | 'backchannels'
const PARTS: readonly Part[] = ['first-audio', 'barge-in', 'mid-thought', 'backchannels']

/** Runs the given parts (all by default); the others are left empty. */
export async function runTurnTakingBench (log: Log, parts: readonly Part[] = PARTS): Promise<TurnTakingResult> {
  CHILD = IN_PROCESS ? undefined : await TurnTakingChild.start(!process.argv.includes('--no-pin'))
  try {
    return await runParts(log, parts)
  } finally {
    await CHILD?.stop()
  }
}

async function runParts (log: Log, parts: readonly Part[]): Promise<TurnTakingResult> {
  const stages = { preempt: [] as Breakdown[], noPreempt: [] as Breakdown[] }
  // One call first, not counted: the first call of a process pays for module loading and JIT.
  log('turn-taking: warm-up call')
  await firstAudio(1, {})
  const r = { adaptive: [] as FirstFrame[], noPreempt: [] as FirstFrame[], fixed: [] as FirstFrame[], loop: { p50: NaN, p99: NaN, ttsLateP50: NaN }, pause: [] as number[], pauseDetected: [] as number[], midThought: [] as TurnTakingResult['midThought'], backchannels: { resumed: 0, runs: 0 } }
  if (parts.includes('first-audio')) {
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    ttsLateness.length = 0
    // The two adaptive modes call by call in turn, so a change of the machine's load falls on both.
    log(`turn-taking: first audio, adaptive endpointing (${MIN_SILENCE} ms), with and without preemptive replies, in turn`)
    for (let i = 0; i < 10; i++) {
      r.adaptive.push(...await firstAudio(1, { endpointing: { minSilenceMs: MIN_SILENCE } }, stages.preempt, i))
      r.noPreempt.push(...await firstAudio(1, { endpointing: { minSilenceMs: MIN_SILENCE, preemptive: false } }, stages.noPreempt, i))
    }
    if (!process.argv.includes('--no-fixed')) {
      log('turn-taking: first audio, fixed 500 ms end silence')
      r.fixed = await firstAudio(10, { endpointing: { adaptive: false, preemptive: false }, vad: { endSilenceMs: 500 } })
    }
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const { readFile, writeFile } = await import('node:fs/promises')
  const log: Log = (line) => { process.stderr.write(`bench: ${line}\n`) }
  // `--barge-in` (or any part's name) runs only those parts and writes nothing.
  const only = PARTS.filter((p) => process.argv.includes(`--${p}`))
  const result = await runTurnTakingBench(log, only.length > 0 ? only : PARTS)
  const setup = { flags: FLAGS, simTimer: SIM_TIMER, agentTimer: AGENT_TIMER, minSilence: MIN_SILENCE, child: CHILD }
  if (only.length > 0) {
    process.stdout.write(`${turnTakingSection(result, setup)}\n`)
    process.exit(0)
  }
  const file = new URL('../BENCHMARKS.md', import.meta.url)
  const doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n')
  await writeFile(file, spliceSection(doc, 'turn-taking', turnTakingSection(result, setup)))
  log('section written to BENCHMARKS.md')
  process.stdout.write(`${turnTakingSection(result, setup)}\n`)
}
