/**
 * Turn latency benchmarks: our own overhead on time to first audio (1, 50, 200 concurrent
 * streamed calls), the gain from sentence streaming, greeting latency and barge-in reaction.
 *
 * Providers are loopback fakes with fixed, known latencies (OpenAI-compatible STT and LLM over
 * HTTP with the real client, a TTS stub with a fixed delay), so what is left is ours. The server
 * and its fakes run in a child process (bench/turns-server.ts), pinned to a CPU of its own on
 * Linux; this process runs the FreeSWITCH simulator, which measures from the caller's side when
 * the caller's audio ended and when the first frame of the agent's reply played. This process's
 * own event-loop delay is measured during every step: when the simulator is late, the step is
 * flagged `driverLimited` (its numbers then include the driver's lateness, never hide it).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { encodeWav } from '../lib/media/wav.ts'
import { FakeFreeSwitch, type SimulatedCall } from '../lib/simulator/index.ts'
import { speechLike } from '../test/media-stream/signals.ts'
import { pinApart, unpinDriver } from './capacity-child.ts'
import { round } from './capacity-stats.ts'
import { percentile } from './stats.ts'
import { TurnsChild } from './turns-child.ts'
import { LATENCY, TURNS_DID, replySentences, type RigOptions } from './turns-protocol.ts'
import { benchSpeaker } from './turns-speaker.ts'

export { LATENCY } from './turns-protocol.ts'

/** Simulator event-loop delay p99 above which a step measures the driver as much as the server. */
export const DRIVER_LIMIT_MS = 20

/** Per stage, p50 of the time it took beyond the fake's fixed latency. */
export interface StageOverheads {
  endpointAndStt: number
  llm: number
  tts: number
  /** Media alignment p50: the reply's audio in hand (ttsAudioAt) to the caller hearing its first frame. */
  playout: number
  playoutP99: number
  /** Processing overhead p50: per turn, the three stages above summed (end of speech to audio in hand, fixed latencies taken out). */
  processing: number
}

export interface OverheadStep {
  readonly calls: number
  readonly p50: number
  readonly p99: number
  readonly ttfaP50: number
  readonly ttfaP99: number
  readonly measured: number
  readonly stages: StageOverheads
  /** The simulator's (this process's) event-loop delay while the turns happen, ms. */
  readonly driverLoopP99: number
  readonly driverLoopMax: number
  /** The simulator lagged (loop delay p99 > DRIVER_LIMIT_MS): the step measured it too. */
  readonly driverLimited: boolean
  /** The server child's event-loop delay p99 and CPU (1 = one core, fakes included) in the same window. */
  readonly serverLoopP99: number
  readonly serverCpu: number
}

export interface TurnsResult {
  readonly overhead: OverheadStep[]
  readonly streaming: { ttfaMs: number, wholeReplyMs: number, ratio: number }
  readonly greeting: { p50: number, p99: number, ttsCallsDuringCalls: number, calls: number }
  readonly bargeIn: { p50: number, p99: number, minSpeechMs: number, samples: number }
  /** Simulator and server on different CPUs (Linux, taskset, 2+ CPUs). */
  readonly pinned: boolean
}

export interface TurnsOptions {
  readonly concurrency?: readonly number[]
  readonly log?: (line: string) => void
  /** Pin the simulator to CPU 0 and the server child to CPU 1 where possible (default true). */
  readonly pinCpus?: boolean
}

const voice = new Map<string, Buffer>()
/** Caller speech, built once per shape: at 200 calls the driver should spend its time driving. */
function voiceWav (seconds: number, f0 = 140): Buffer {
  const key = `${seconds}/${f0}`
  let wav = voice.get(key)
  if (wav === undefined) {
    wav = encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, seconds, -18, { f0 }) })
    voice.set(key, wav)
  }
  return wav
}

/** Conversation numbers, unique over the run, so every reply's sentences are new to TTS. */
let nextConversation = 0
function conversations (count: number): number {
  const first = nextConversation
  nextConversation += count
  return first
}

/**
 * The wall-clock moment of a connected call's simulator time 0, to line its timeline up with
 * the server's waterfall marks (same machine, same wall clock). Time 0 is fixed once the
 * simulator answers our `connect`; `Date.now() - nowMs` reads it back exactly except when the
 * millisecond ticks between the two reads, which can only make it 1 ms early: the largest of a
 * few reads is exact, however late this event loop is.
 */
function timeZero (call: SimulatedCall): number {
  let t0 = Number.NEGATIVE_INFINITY
  for (let i = 0; i < 3; i++) t0 = Math.max(t0, Date.now() - call.nowMs)
  return t0
}

/** Run `fn` against a fresh server child, stopped (and its temporary files removed) whatever happens. */
async function withServer<T> (rig: RigOptions, pin: boolean, fn: (child: TurnsChild, pinned: boolean) => Promise<T>): Promise<T> {
  const child = await TurnsChild.start(rig)
  try {
    const pinned = pin && await pinApart(child.pid)
    return await fn(child, pinned)
  } finally {
    await child.stop()
  }
}

/** Hang up what is left, bounded: a call the simulator cannot end must not hold the run open. */
async function closeSimulator (fs: FakeFreeSwitch): Promise<void> {
  const giveUp = new AbortController()
  await Promise.race([fs.close(), sleep(15_000, undefined, { signal: giveUp.signal }).catch(() => {})])
  giveUp.abort()
}

/** Our overhead on time to first audio with `calls` concurrent conversations. */
async function overheadAt (calls: number, pin: boolean): Promise<{ step: OverheadStep, pinned: boolean }> {
  return await withServer({ bargeIn: true, script: 'receptionist' }, pin, async (child, pinned) => {
    await child.script(conversations(calls), calls)
    const fs = new FakeFreeSwitch()
    // After the greeting (about 2 s at the stub voice's speaking rate).
    const speakAt = 4000
    const speechMs = 1000
    const speechEnd = speakAt + speechMs
    const driverLoop = monitorEventLoopDelay({ resolution: 1 })
    let placed: SimulatedCall[] = []
    let server: { loop: { p99: number }, cpu: number }
    // The turns window: from the first caller starting to speak to the last reply's first audio
    // (with a margin). Call set-up and greetings come before it and do not count.
    // All calls are in progress together, but their turns are spread in time as real
    // conversations' are: 20 turns a second at 200 calls (a caller speaks every ~10 s). Two
    // hundred turns inside two seconds is a burst no set of live calls produces.
    const spreadMs = calls > 1 ? Math.max(2000, calls * 50) : 0
    const turnsWindow = (async () => {
      await sleep(speakAt)
      await child.windowStart()
      driverLoop.reset()
      driverLoop.enable()
      await sleep(spreadMs + speechMs + 2000)
      driverLoop.disable()
      return await child.windowEnd()
    })()
    // Awaited below; if placing calls fails first, its rejection must not go unhandled.
    turnsWindow.catch(() => {})
    try {
      placed = await Promise.all(Array.from({ length: calls }, async (_, i) => {
        const offset = Math.floor((i * spreadMs) / calls)
        await sleep(offset)
        return fs.placeCall({
          port: child.port, destination: TURNS_DID, callerNumber: `+39333${String(1000000 + i)}`,
          // Every call stays up until the last one's reply has started: all are concurrent.
          caller: { audio: [{ atMs: speakAt, wav: voiceWav(speechMs / 1000) }], hangupAtMs: speechEnd + 6000 + spreadMs - offset },
        })
      }))
      server = await turnsWindow
      await Promise.all(placed.map(async (c) => await c.ended))
    } finally {
      driverLoop.disable()
      await closeSimulator(fs)
    }
    const { marks } = await child.results()
    const overheads: number[] = []
    const ttfas: number[] = []
    const stage = { endpointAndStt: [] as number[], llm: [] as number[], tts: [] as number[], playout: [] as number[], processing: [] as number[] }
    for (const call of placed) {
      const res = call.result
      const first = call.ear.firstHeard(speechEnd, 200)
      if (first === undefined || res.hungUpBy !== 'caller' || !res.connected) continue
      const ttfa = first.playMs - speechEnd
      ttfas.push(ttfa)
      overheads.push(ttfa - (LATENCY.endSilenceMs + LATENCY.sttMs + LATENCY.llmSentenceMs + LATENCY.ttsMs))
      const m = marks.find((x) => x.uuid === res.uuid && x.firstFrameAt !== undefined)
      if (m?.sttFinalAt === undefined || m.firstSentenceAt === undefined || m.ttsAudioAt === undefined) continue
      const t0 = timeZero(call)
      stage.endpointAndStt.push(m.sttFinalAt - (t0 + speechEnd) - LATENCY.endSilenceMs - LATENCY.sttMs)
      stage.llm.push(m.firstSentenceAt - m.sttFinalAt - LATENCY.llmSentenceMs)
      stage.tts.push(m.ttsAudioAt - m.firstSentenceAt - LATENCY.ttsMs)
      stage.playout.push(t0 + first.playMs - m.ttsAudioAt)
      stage.processing.push(m.ttsAudioAt - (t0 + speechEnd) - (LATENCY.endSilenceMs + LATENCY.sttMs + LATENCY.llmSentenceMs + LATENCY.ttsMs))
    }
    const driverLoopP99 = round(driverLoop.percentile(99) / 1e6, 1)
    return {
      pinned,
      step: {
        calls,
        p50: percentile(overheads, 50),
        p99: percentile(overheads, 99),
        ttfaP50: percentile(ttfas, 50),
        ttfaP99: percentile(ttfas, 99),
        measured: overheads.length,
        stages: {
          endpointAndStt: percentile(stage.endpointAndStt, 50),
          llm: percentile(stage.llm, 50),
          tts: percentile(stage.tts, 50),
          playout: percentile(stage.playout, 50),
          playoutP99: percentile(stage.playout, 99),
          processing: percentile(stage.processing, 50),
        },
        driverLoopP99,
        driverLoopMax: round(driverLoop.max / 1e6, 1),
        driverLimited: driverLoopP99 > DRIVER_LIMIT_MS,
        serverLoopP99: round(server.loop.p99, 1),
        serverCpu: round(server.cpu, 2),
      },
    }
  })
}

/**
 * Sentence streaming versus waiting for the whole reply to be generated and synthesised, both
 * from the moment the transcript is final (the LLM request): what happens before is the same.
 */
async function streamingGain (pin: boolean): Promise<TurnsResult['streaming']> {
  return await withServer({ bargeIn: true, script: 'receptionist' }, pin, async (child) => {
    const n = conversations(1)
    await child.script(n, 1)
    const fs = new FakeFreeSwitch()
    const speakAt = 4000
    try {
      const call = fs.placeCall({ port: child.port, destination: TURNS_DID, caller: { audio: [{ atMs: speakAt, wav: voiceWav(1) }], hangupAtMs: speakAt + 9000 } })
      await call.ended
    } finally {
      await closeSimulator(fs)
    }
    const { marks, lastText } = await child.results()
    const m = marks.find((x) => x.sttFinalAt !== undefined && x.firstFrameAt !== undefined)
    const ttfaMs = (m?.firstFrameAt ?? Number.NaN) - (m?.sttFinalAt ?? Number.NaN)
    // The earliest a non-streaming agent could speak: the whole reply generated (its last text,
    // measured), then synthesised in one request. Our TTS stub costs a fixed delay per request;
    // a real provider's time grows with the text, so one request for three sentences is
    // modelled as three of ours (measured, in sequence).
    const llmDoneMs = (lastText[0] ?? Number.NaN) - (m?.sttFinalAt ?? Number.NaN)
    const dir = await mkdtemp(join(tmpdir(), 'pa-bench-tts-'))
    try {
      const tts = benchSpeaker(dir, { renders: 0 })
      const t0 = Date.now()
      for (const sentence of replySentences(n)) await tts.render(sentence, {})
      const wholeReplyMs = llmDoneMs + Date.now() - t0
      return { ttfaMs, wholeReplyMs, ratio: ttfaMs / wholeReplyMs }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
}

/** Socket connect to the first greeting frame, with pre-rendered phrases. */
async function greeting (calls: number, pin: boolean): Promise<TurnsResult['greeting']> {
  return await withServer({ bargeIn: true, script: 'take-message' }, pin, async (child) => {
    const rendersAtStart = (await child.results()).renders
    const fs = new FakeFreeSwitch()
    const latencies: number[] = []
    try {
      for (let i = 0; i < calls; i++) {
        const call = fs.placeCall({ port: child.port, destination: TURNS_DID, callerNumber: `+39333${String(2000000 + i)}`, caller: { hangupAtMs: 1500 } })
        await call.ended
        const first = call.ear.firstHeard(0, 200)
        if (first !== undefined) latencies.push(first.playMs)
      }
    } finally {
      await closeSimulator(fs)
    }
    const renders = (await child.results()).renders
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), ttsCallsDuringCalls: renders - rendersAtStart, calls }
  })
}

/** Caller speech onset to the agent's audio stopping, during a streamed reply. */
async function bargeIn (samples: number, pin: boolean): Promise<TurnsResult['bargeIn']> {
  return await withServer({ bargeIn: true, script: 'receptionist' }, pin, async (child) => {
    const minSpeechMs = 300
    const reactions: number[] = []
    const fs = new FakeFreeSwitch()
    try {
      for (let i = 0; i < samples; i++) {
        await child.script(conversations(2), 2)
        const call = fs.placeCall({ port: child.port, destination: TURNS_DID, callerNumber: `+39333${String(3000000 + i)}`, caller: { audio: [{ atMs: 4000, wav: voiceWav(0.8) }], hangupAtMs: 15_000 } })
        let bargeAt: number | undefined
        while (!call.hungUp && bargeAt === undefined) {
          const reply = call.ear.firstHeard(4800, 200)
          if (reply !== undefined && call.nowMs > reply.playMs + 400) {
            bargeAt = call.nowMs + 10
            call.say(bargeAt, voiceWav(1.2, 180))
          }
          await sleep(5)
        }
        await sleep(1500)
        call.hangup()
        await call.ended
        const stopped = call.ear.lastHeardEndMs((bargeAt ?? 0) + 1200, 200)
        if (bargeAt !== undefined && stopped !== undefined) reactions.push(stopped - bargeAt - minSpeechMs)
      }
    } finally {
      await closeSimulator(fs)
    }
    return { p50: percentile(reactions, 50), p99: percentile(reactions, 99), minSpeechMs, samples: reactions.length }
  })
}

export async function runTurnsBench (options: TurnsOptions = {}): Promise<TurnsResult> {
  const log = options.log ?? (() => {})
  const pin = options.pinCpus !== false
  const overhead: OverheadStep[] = []
  let pinned = false
  try {
    for (const calls of options.concurrency ?? [1, 50, 200]) {
      log(`time to first audio, ${calls} concurrent calls`)
      const r = await overheadAt(calls, pin)
      pinned ||= r.pinned
      overhead.push(r.step)
      if (r.step.driverLimited) log(`  driver-limited: simulator event-loop delay p99 ${r.step.driverLoopP99} ms > ${DRIVER_LIMIT_MS}`)
    }
    log('sentence streaming gain')
    const streaming = await streamingGain(pin)
    log('greeting latency')
    const greet = await greeting(20, pin)
    log('barge-in reaction')
    const barge = await bargeIn(10, pin)
    return { overhead, streaming, greeting: greet, bargeIn: barge, pinned }
  } finally {
    // The caller of the bench may run other work after it (bench/run.ts runs capacity next).
    if (pin) await unpinDriver()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await runTurnsBench({ log: (l) => { process.stderr.write(`${l}\n`) } })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
