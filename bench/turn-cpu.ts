/**
 * CPU per AI turn (issue 18: ≤ 10 ms, the provider fakes excluded), small and repeatable.
 *
 * The server is bench/load-server.ts (wired as `phone-agent serve` wires it: the receptionist's
 * converse in stream mode, the classic VAD, fixed endpointing), the providers bench/load-fakes.ts,
 * each in its own process; this process runs the JavaScript simulator for a few calls (its CPU
 * is not the server's). A round places C concurrent calls (within a second) of a warm-up turn
 * and then K turns each (the caller speaks 1.5 s of speech-like audio every 5 s, a quiet line
 * otherwise) and reads the server's CPU from /proc (every thread, and the main thread alone) over
 * a window that opens once every warm-up turn has played; a quiet round places the same calls with
 * the caller silent (the same line noise, no speech). CPU per turn = (talk - quiet) / turns whose
 * reply audio came in the window: the VAD on the caller's speech is included, call set-up is not.
 * One talk round warms the JIT first. Rounds alternate; the median is reported. Each round starts
 * with a full GC before its calls and its window ends with one, so a round pays for its own garbage.
 * A silent keeper call per round outlives it into the next, so the server is never empty (runRound
 * says why); `--no-keeper` for the old arrangement.
 *   node --import tsx bench/turn-cpu.ts [--calls=C] [--turns=K] [--rounds=R] [--write] [--perf=DIR] [--no-keeper]
 * LOAD_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the server alone; `--perf=DIR`
 * records each measured round with `perf record` (a talk round's profile minus a quiet one's;
 * `bench/perf-split.ts --turns=N DIR/talk-1.data,DIR/quiet-1.data` splits it by module).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { encodeWav } from '../lib/media/wav.ts'
import { FakeFreeSwitch } from '../lib/simulator/index.ts'
import { speechLike, whiteNoise } from '../test/media-stream/signals.ts'
import { pinApart, unpinDriver } from './capacity-child.ts'
import { round } from './capacity-stats.ts'
import { FakesProcess, LoadServer } from './load-children.ts'
import { LOAD_DID } from './load-protocol.ts'
import { perfServerArgs, startPerf } from './perf-record.ts'
import { threadTimes } from './proc-threads.ts'
import { spliceSection } from './sections.ts'
import { percentile } from './stats.ts'

const SLOT_MS = 5000
const SPEECH_MS = 1500
const LEAD_MS = 1000
/** Calls are placed this far apart at most (all within the first second of a round). */
const SPREAD_MS = 1000
/** Between the warm-up turn's slot and the measured ones: the window starts in it. */
const GAP_MS = 2000
/**
 * The window starts this long after a round's first call: every call's warm-up reply has played
 * (its speech ends 2.5 s after the call starts, the reply is in hand about 1 s later and plays
 * about 2 s) and no measured speech has begun (LEAD + SLOT + GAP after the call's start).
 */
const WINDOW_AT_MS = SPREAD_MS + LEAD_MS + SLOT_MS
/**
 * A round's keeper call (a warm-up turn, then a quiet line) outlives the round's calls by this much: it is
 * still up when the next round's calls are, then hangs up before that round's window opens.
 */
const KEEP_MS = 5000

export interface RoundFigures {
  readonly kind: 'talk' | 'quiet'
  /** Every thread of the server over the window. */
  readonly cpuMs: number
  /** The main thread alone (the event loop; V8's compiler and GC helpers run on other threads). Absent in older results. */
  readonly mainCpuMs?: number
  readonly wallMs: number
  readonly turns: number
}
export interface TurnCpuResult {
  readonly calls: number
  readonly turnsPerCall: number
  readonly rounds: readonly RoundFigures[]
  /** Per talk round, (talk - the quiet rounds' median) / turns, ms. */
  readonly perTurnMs: readonly number[]
  readonly medianMs: number
  /** The same for the main thread alone. Absent in older results. */
  readonly mainPerTurnMs?: readonly number[]
  readonly mainMedianMs?: number
  /** Each round's window starts after a warm-up turn of every call (absent: the whole round, cold). */
  readonly warmWindow?: boolean
  readonly loadStart: readonly number[]
  readonly loadEnd: readonly number[]
  readonly pinned: boolean
  /** A silent keeper call bridged the rounds (absent in older results: the server sat empty between rounds). */
  readonly keeper?: boolean
}

const audioCache = new Map<string, Buffer>()
/** One call's caller audio (a WAV): line noise throughout, speech in each turn's slot when talking. */
function callerAudio (turns: number, talk: boolean, seed: number): Buffer {
  const key = `${turns}/${talk}/${seed}`
  let wav = audioCache.get(key)
  if (wav === undefined) { wav = encodeWav({ sampleRate: 8000, channels: 1, samples: callerSamples(turns, talk, seed) }); audioCache.set(key, wav) }
  return wav
}

/** The caller's timeline: a warm-up turn at LEAD, a gap, then the measured turns. */
function roundMs (turns: number): number { return LEAD_MS + SLOT_MS + GAP_MS + turns * SLOT_MS + LEAD_MS }

function callerSamples (turns: number, talk: boolean, seed: number): Int16Array {
  const samples = whiteNoise(8000, roundMs(turns) / 1000, -60, seed)
  if (!talk) return samples
  const speech = speechLike(8000, SPEECH_MS / 1000, -18, { f0: 140, seed })
  for (let k = 0; k <= turns; k++) {
    const at = (LEAD_MS + k * SLOT_MS + (k > 0 ? GAP_MS : 0)) * 8
    for (let i = 0; i < speech.length; i++) samples[at + i] = Math.max(-32768, Math.min(32767, (samples[at + i] as number) + (speech[i] as number)))
  }
  return samples
}

async function serverCpuMs (pid: number): Promise<{ all: number, main: number }> {
  const threads = await threadTimes(pid)
  let all = 0
  for (const t of threads.values()) all += t.cpuMs
  return { all, main: threads.get(pid)?.cpuMs ?? 0 }
}

async function runRound (fs: FakeFreeSwitch, server: LoadServer, calls: number, turns: number, talk: boolean, serial: { n: number }, keeper: boolean, perf?: { dir: string | undefined, name: string }): Promise<RoundFigures> {
  await server.marks() // drop what an earlier round left
  // A full GC at both ends of the window: each round then pays for collecting its own garbage,
  // not for whatever an earlier round left when a major GC happened to land in this one (talk
  // rounds varied by 0.7 s of CPU without it, as much as the turns themselves).
  await server.memory()
  const durationMs = roundMs(turns)
  const start = Date.now()
  // The window opens once every call has had a turn: what the calls' first turn compiles again
  // is left out (the calls of the round before are gone, and V8 drops optimised code that held
  // on to their objects once a GC finds them dead: 50-100 functions re-optimised per round, 8.8
  // ms of compiler-thread CPU per turn measured with --perf), as is call set-up.
  const opened = (async () => {
    await sleep(WINDOW_AT_MS)
    const stopPerf = startPerf(perf?.dir, [server.pid], perf?.name ?? '')
    return { stopPerf, before: await serverCpuMs(server.pid), t0: Date.now() }
  })()
  // The server is never without a call, as a loaded server is not: when every call of a round
  // ended together and a full GC found them dead, V8 collected the maps of their objects (a
  // class's instance map after its private fields lives only in a weak transition, Node's
  // C++-made Buffers' prototype map too) and deoptimised every function whose optimised code
  // checked them: ~50 functions a round, re-optimised in the next window as each got hot again
  // (120 ms of compiler-thread CPU per talk window more than a quiet one, 3.7 ms per turn,
  // measured with --trace-opt --trace-deopt --trace-gc). A keeper call bridges the gap: it has
  // the warm-up turn alone (its reply plays before the window opens, so the objects a call builds
  // once it has spoken exist too), then a quiet line until it hangs up in the next round.
  if (keeper) {
    const n = serial.n++
    fs.placeCall({
      port: server.port, destination: LOAD_DID, callerNumber: `+39333${String(1_000_000 + n)}`,
      caller: { audio: [{ atMs: 0, wav: callerAudio(0, true, 1 + (n % 7)) }], hangupAtMs: durationMs + KEEP_MS },
    })
  }
  const placed = await Promise.all(Array.from({ length: calls }, async (_, i) => {
    // Spread over a second so the turns do not all land on the same instant.
    await sleep(Math.floor(i * SPREAD_MS / calls))
    const n = serial.n++
    return await fs.placeCall({
      port: server.port, destination: LOAD_DID, callerNumber: `+39333${String(1_000_000 + n)}`,
      caller: { audio: [{ atMs: 0, wav: callerAudio(turns, talk, 1 + (n % 7)) }], hangupAtMs: durationMs },
    })
  }))
  await Promise.all(placed.map(async (c) => await c.ended))
  await sleep(1000)
  await server.memory()
  const { stopPerf, before, t0 } = await opened
  const after = await serverCpuMs(server.pid)
  const wallMs = Date.now() - t0
  await stopPerf?.()
  const marks = await server.marks()
  const done = marks.filter((m) => m.ttsAudioAt !== undefined && m.ttsAudioAt >= t0).length
  if (Date.now() - start < WINDOW_AT_MS) throw new Error('a round ended before its window opened')
  return { kind: talk ? 'talk' : 'quiet', cpuMs: after.all - before.all, mainCpuMs: after.main - before.main, wallMs, turns: done }
}

export async function runTurnCpu (calls: number, turns: number, rounds: number, log: (s: string) => void, perfDir?: string, keeper = true): Promise<TurnCpuResult> {
  const loadStart = loadavg().map((l) => round(l, 2))
  const dir = await mkdtemp(join(tmpdir(), 'pa-turn-cpu-'))
  const fakes = await FakesProcess.start()
  let server: LoadServer | undefined
  // The simulator's write timer does not change what the server sends (its config does), only
  // when the simulated switch writes it; timerfd is Linux's default (lib/simulator/ear.ts).
  const fs = new FakeFreeSwitch({ writeTimer: 'timerfd' })
  try {
    server = await LoadServer.start({ fakesPort: fakes.port, dir })
    const pinned = await pinApart(server.pid)
    const serial = { n: 0 }
    // Two warm-up rounds with the keeper: the first calls to end write, for the first time, the
    // fields a call sets only when it closes (`#closed` and the like), and V8 throws away the
    // optimised code that had taken them for constants (--trace-deopt: "code dependencies" on the
    // send path, once per process); the second round's talk optimises that code again. With one,
    // the quiet round after it left the send path cold and the first talk window recompiled it.
    for (let w = 0; w < (keeper ? 2 : 1); w++) {
      log('warm-up round')
      await runRound(fs, server, calls, turns, true, serial, keeper)
    }
    const figures: RoundFigures[] = []
    for (let r = 0; r < rounds; r++) {
      for (const talk of [false, true]) {
        const f = await runRound(fs, server, calls, turns, talk, serial, keeper, { dir: perfDir, name: `${talk ? 'talk' : 'quiet'}-${r + 1}` })
        log(`${f.kind}: ${f.cpuMs} ms CPU in ${f.wallMs} ms, ${f.turns} turns`)
        figures.push(f)
      }
    }
    const perTurn = (cpu: (f: RoundFigures) => number): number[] => {
      const quiet = percentile(figures.filter((f) => f.kind === 'quiet').map(cpu), 50)
      return figures.filter((f) => f.kind === 'talk' && f.turns > 0).map((f) => round((cpu(f) - quiet) / f.turns, 1))
    }
    const perTurnMs = perTurn((f) => f.cpuMs)
    const mainPerTurnMs = perTurn((f) => f.mainCpuMs ?? Number.NaN)
    return { calls, turnsPerCall: turns, rounds: figures, perTurnMs, medianMs: percentile(perTurnMs, 50), mainPerTurnMs, mainMedianMs: percentile(mainPerTurnMs, 50), warmWindow: true, loadStart, loadEnd: loadavg().map((l) => round(l, 2)), pinned, keeper }
  } finally {
    await fs.close()
    await server?.stop()
    await fakes.stop()
    await unpinDriver()
    await rm(dir, { recursive: true, force: true })
  }
}

function arg (name: string, fallback: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : Number(a.slice(name.length + 3))
}

/** The `turn-cpu` section of BENCHMARKS.md: this run, and the same bench on the tree before the change when given. */
export function formatTurnCpuSection (after: TurnCpuResult, before: TurnCpuResult | undefined, command: string, notes: readonly string[]): string {
  const row = (label: string, r: TurnCpuResult): string => {
    const q = r.rounds.filter((f) => f.kind === 'quiet').map((f) => f.cpuMs)
    const t = r.rounds.filter((f) => f.kind === 'talk')
    const main = r.mainMedianMs === undefined ? '-' : `${r.mainPerTurnMs?.join(', ') ?? ''} (**${r.mainMedianMs}**)`
    return `| ${label} | ${r.warmWindow === true ? 'warm' : 'whole round'} | ${r.calls} x ${r.turnsPerCall} | ${q.join(', ')} | ${t.map((f) => `${f.cpuMs} (${f.turns})`).join(', ')} | ${r.perTurnMs.join(', ')} | **${r.medianMs}** | ${main} | ${r.loadStart[0]} / ${r.loadEnd[0]} |`
  }
  return [
    '<!-- turn-cpu:begin (written by bench/turn-cpu.ts) -->',
    '## CPU per AI turn (`bench/turn-cpu.ts`, issue 18)',
    '',
    `\`${command}\` (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC). Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}; server pinned to CPU 1, simulator and fakes to CPU 0${after.pinned ? '' : ' (not pinned: no taskset)'}.`,
    '',
    'The load bench\'s server (`bench/load-server.ts`: receptionist converse, stream media, classic VAD, fixed endpointing, no call records) and providers (`bench/load-fakes.ts`, 24 kHz PCM TTS) in their own processes; C concurrent calls placed within a second, each a warm-up turn and then K turns (1.5 s of speech-like audio every 5 s on a -60 dBFS line); quiet rounds place the same calls with the caller silent. Server CPU from `/proc` (all threads; the main thread alone in its own column) over each round\'s window, which opens once every call\'s warm-up turn has played ("warm"; "whole round": results from before, whose window was the whole round, so V8 re-optimising what the previous round\'s dead calls had held was in it) and closes with a full GC in the server after the calls end (a round pays for its own garbage). CPU per turn = (talk window - median quiet window) / turns whose reply audio came in the window: the VAD on the speech, STT upload, the streamed LLM reply, TTS download, resampling, the cache write, the reply\'s echo guard and pacing, and with `media.stream.writeTimer: matrix` the idle frames of a call kept warm by its turns (a quiet call goes cold after 5 s; on timerfd, the default, an idle call sends only a keep-alive a second) are in it; call set-up is not. The simulator writes on the timerfd write timer (Linux\'s default). One talk round warms up first.',
    '',
    '| tree | window | calls x turns | quiet rounds CPU ms | talk rounds CPU ms (turns) | CPU per turn ms, per talk round | median ms | main thread per turn ms (median) | load average start / end |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...(before === undefined ? [] : [row('before', before)]),
    row(before === undefined ? 'this tree' : 'after', after),
    '',
    ...notes,
    '<!-- turn-cpu:end -->',
  ].join('\n')
}

function textArg (name: string): string | undefined {
  return process.argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3)
}

/** `--perf=DIR`: perf records each measured round; the server names its JIT code for perf. */
function perfArg (): string | undefined {
  return perfServerArgs(textArg('perf'))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // --from=FILE: no run, the result of an earlier run (its JSON output); --before=FILE: the same
  // bench's JSON from the tree before a change; --write: splice the section into BENCHMARKS.md.
  const from = textArg('from')
  const result = from !== undefined
    ? JSON.parse(await readFile(from, 'utf8')) as TurnCpuResult
    : await runTurnCpu(arg('calls', 10), arg('turns', 4), arg('rounds', 3), (s) => { console.error(s) }, perfArg(), !process.argv.includes('--no-keeper'))
  if (from === undefined) console.log(JSON.stringify({ ...result, cpu: cpus()[0]?.model, node: process.version }))
  if (process.argv.includes('--write')) {
    const beforeFile = textArg('before')
    const before = beforeFile === undefined ? undefined : JSON.parse(await readFile(beforeFile, 'utf8')) as TurnCpuResult
    const notesFile = textArg('notes')
    const notes = notesFile === undefined ? [] : (await readFile(notesFile, 'utf8')).trimEnd().split('\n')
    const command = `node --import tsx bench/turn-cpu.ts --calls=${result.calls} --turns=${result.turnsPerCall} --rounds=${result.rounds.length / 2}`
    const path = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url))
    await writeFile(path, spliceSection(await readFile(path, 'utf8'), 'turn-cpu', formatTurnCpuSection(result, before, command, notes)))
  }
  process.exit(0)
}
