/**
 * Echo benchmark: false barge-ins from our own echo, with the VAD alone and with the echo guard
 * (lib/media/echo.ts), on a labelled set built from the offline voices at 8 kHz
 * (bench/echo-set.ts: echo at 20-300 ms and 6-25 dB ERL through hybrid and handset paths, line
 * noise, DTMF, a stall in our sending, real barge-ins, lines without echo); and the guard's
 * cost per frame and per call. Every scenario also goes through the frozen copy of the guard
 * from before it looked at known lines sparsely (test/media-stream/echo-reference.ts): both are
 * scored, side by side. Writes its section of BENCHMARKS.md.
 *
 *   node --import tsx bench/echo.ts            (the full set, ~2 minutes)
 *   node --import tsx bench/echo.ts --quick    (flite only, a few paths; does not touch BENCHMARKS.md)
 *   --compare=DIR                              (cost: DIR's lib/media/echo.ts as "before" instead of the frozen copy)
 * ECHO_BENCH_NOTES: lines added under the cost table (what DIR is).
 */
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { EchoGuard } from '../lib/media/echo.ts'
import { bargeInSchema } from '../lib/media/stream/turn-taking.ts'
import { Vad } from '../lib/media/vad/index.ts'
import { ReferenceEchoGuard } from '../test/media-stream/echo-reference.ts'
import { buildVoices, RATE, render, scenarios, type RenderedScenario } from './echo-set.ts'
import { onDtmf, scoreAgainst, summarise, summariseReference, type GuardLike, type ScenarioScore, type Summary } from './echo-score.ts'
import { spliceSection } from './sections.ts'
import { percentile } from './stats.ts'

const quick = process.argv.includes('--quick')
const compareDir = process.argv.find((a) => a.startsWith('--compare='))?.slice('--compare='.length)
/** The guard the cost is compared with: another tree's, or the frozen copy (the 0496fee code: its verdicts, but slower than the guard just before this change). */
const Before = compareDir === undefined
  ? ReferenceEchoGuard
  : (await import(pathToFileURL(resolve(compareDir, 'lib/media/echo.ts')).href) as { EchoGuard: new (o: { rate: number }) => GuardLike & { readonly line: { readonly state: string } } }).EchoGuard
const log = (line: string): void => { process.stderr.write(`echo bench: ${line}\n`) }

const started = Date.now()
const loadStart = loadavg()
log(`synthesising the voices${quick ? ' (quick)' : ''}`)
const voices = await buildVoices({ quick })
const list = scenarios(voices, { quick })
log(`${list.length} scenarios from ${voices.agent.length} agent and ${voices.callers.length} caller clips (${voices.engines.join(', ')})`)
const scores: ScenarioScore[] = []
// Every scenario also through the frozen copy of the guard from before it looked at known lines
// sparsely (test/media-stream/echo-reference.ts), scored alongside.
for (const s of list) scores.push(scoreAgainst(s, () => new ReferenceEchoGuard({ rate: RATE })))
const summary = summarise(scores)
const reference = summariseReference(scores)
const costs = measureCost(scores)
const section = report(summary, reference, scores, costs, voices.engines)
process.stdout.write(`${section}\n`)
if (!quick) {
  const url = new URL('../BENCHMARKS.md', import.meta.url)
  const doc = await readFile(url, 'utf8').catch(() => '# Benchmarks\n')
  await writeFile(url, spliceSection(doc, 'echo', `<!-- echo:begin (written by bench/echo.ts) -->\n${section}\n<!-- echo:end -->`))
  log('section written to BENCHMARKS.md')
}
log(`done in ${Math.round((Date.now() - started) / 1000)} s`)

/** µs per frame of one guard on one scenario. */
interface CostRow {
  /** Per caller's frame while our output may be echoing; of those, while the guard still learnt the line, and once it knew it. */
  readonly activeUs: number
  readonly learningUs: number
  readonly knownUs: number
  /** Per caller's frame otherwise (we were silent for longer than the longest delay). */
  readonly idleUs: number
  /** Per frame we send. */
  readonly outboundUs: number
}

interface Costs {
  /** On a line with echo, and on the same line without it (the guard finds none: it is clear). */
  readonly echo: { readonly before: CostRow, readonly after: CostRow }
  readonly clear: { readonly before: CostRow, readonly after: CostRow }
  /** The VAD on the same frames, for scale (µs). */
  readonly vadUs: number
  /** Memory of one guard (bytes, typed arrays and objects), the one compared with and today's. */
  readonly bytesPerGuard: { readonly before: number, readonly after: number }
}

/** One replay of `r` through a new guard, each call timed (wall clock: short enough to be rarely preempted). */
function replay (make: () => GuardLike & { readonly line: { readonly state: string } }, r: RenderedScenario): CostRow {
  const guard = make()
  let active = 0n
  let activeN = 0
  let learning = 0n
  let learningN = 0
  let idle = 0n
  let idleN = 0
  let out = 0n
  let outN = 0
  let o = 0
  for (const f of r.inbound) {
    while (o < r.outbound.length && (r.outbound[o]?.sentAtMs ?? Infinity) <= f.atMs) {
      const frame = r.outbound[o++]
      if (frame === undefined) break
      const t0 = process.hrtime.bigint()
      guard.noteOutbound(frame.samples, frame.sentAtMs)
      out += process.hrtime.bigint() - t0
      outN++
    }
    const learnt = guard.line.state === 'learning'
    const t0 = process.hrtime.bigint()
    const v = guard.inbound(f.samples, f.atMs)
    const t1 = process.hrtime.bigint()
    if (v.echoShare > 0 || v.echoOnly || v.doubleTalk) {
      active += t1 - t0
      activeN++
      if (learnt) { learning += t1 - t0; learningN++ }
    } else {
      idle += t1 - t0
      idleN++
    }
  }
  const us = (ns: bigint, n: number): number => Number(ns) / Math.max(1, n) / 1000
  return { activeUs: us(active, activeN), learningUs: us(learning, learningN), knownUs: us(active - learning, activeN - learningN), idleUs: us(idle, idleN), outboundUs: us(out, outN) }
}

/**
 * Steady-state cost, today's guard against the one it is compared with (Before), replayed
 * alternately (3 warm-up replays each, then 10): the best replay of each, so another process's
 * load on this shared machine counts as little as it can. The replay is one call: its first
 * second or so of our speech is the guard learning the line.
 */
function compare (r: RenderedScenario): { before: CostRow, after: CostRow } {
  const makers = { before: () => new Before({ rate: RATE }), after: () => new EchoGuard({ rate: RATE }) }
  const best = { before: [] as CostRow[], after: [] as CostRow[] }
  for (let rep = 0; rep < 13; rep++) {
    for (const k of ['before', 'after'] as const) {
      const row = replay(makers[k], r)
      if (rep >= 3) best[k].push(row)
    }
  }
  const min = (rows: CostRow[]): CostRow => ({
    activeUs: Math.min(...rows.map((x) => x.activeUs)),
    learningUs: Math.min(...rows.map((x) => x.learningUs)),
    knownUs: Math.min(...rows.map((x) => x.knownUs)),
    idleUs: Math.min(...rows.map((x) => x.idleUs)),
    outboundUs: Math.min(...rows.map((x) => x.outboundUs)),
  })
  return { before: min(best.before), after: min(best.after) }
}

function measureCost (scores: readonly ScenarioScore[]): Costs {
  const pick = scores.find((s) => s.scenario.caller === undefined && s.scenario.echo.attenuationDb < 100) ?? scores[0]
  if (pick === undefined) throw new Error('no scenario')
  const r = render(pick.scenario)
  const clear = render({ ...pick.scenario, echo: { ...pick.scenario.echo, attenuationDb: 200 } })
  const echo = compare(r)
  const noEcho = compare(clear)
  let vadNs = 0n
  let vadN = 0
  for (let rep = 0; rep < 10; rep++) {
    const vad = new Vad({ rate: RATE })
    for (const f of r.inbound) {
      const t0 = process.hrtime.bigint()
      vad.push(f.samples, f.mediaMs)
      if (rep >= 3) { vadNs += process.hrtime.bigint() - t0; vadN++ }
    }
  }
  // Without a collection on either side the difference is mostly the garbage of the passes above;
  // even with one, a single measure has read 7 KB high: the least of five, each guard alternately.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const bytesOf = (make: () => unknown): number => {
    gc()
    gc()
    const m0 = process.memoryUsage()
    const guards = Array.from({ length: 1000 }, make)
    gc()
    gc()
    const m1 = process.memoryUsage()
    return (m1.heapUsed + m1.arrayBuffers - m0.heapUsed - m0.arrayBuffers) / guards.length
  }
  const bytes = { before: Infinity, after: Infinity }
  for (let rep = 0; rep < 5; rep++) {
    bytes.before = Math.min(bytes.before, bytesOf(() => new Before({ rate: RATE })))
    bytes.after = Math.min(bytes.after, bytesOf(() => new EchoGuard({ rate: RATE })))
  }
  return { echo, clear: noEcho, vadUs: Number(vadNs) / Math.max(1, vadN) / 1000, bytesPerGuard: bytes }
}

/** Detection delays split by what makes them long (line noise, the guard's first second): before / now. */
function lateness (scores: readonly ScenarioScore[]): string[] {
  const rows: string[] = []
  const delays = (set: readonly ScenarioScore[], keptAt: (x: ScenarioScore) => number | undefined): string => {
    const d = set.flatMap((x) => { const at = keptAt(x); return at === undefined ? [] : [at - (x.control?.keptAt ?? 0)] }).sort((a, b) => a - b)
    return `${percentile(d, 50)} / ${percentile(d, 90)} / ${d.at(-1) ?? 0} ms`
  }
  for (const noiseDb of [-60, -45]) {
    for (const early of [false, true]) {
      const set = scores.filter((x) => x.scenario.caller !== undefined && x.scenario.echo.attenuationDb < 100 &&
        x.scenario.echo.noiseDb === noiseDb && (x.scenario.caller.atMs < 1500) === early && x.control?.keptAt !== undefined)
      if (set.length === 0) continue
      rows.push(`| … echo, noise ${noiseDb} dBFS, caller ${early ? 'in the agent\'s first second' : 'later'} (${set.length}) | | ${delays(set, (x) => x.reference?.keptAt)} | ${delays(set, (x) => x.guarded.keptAt)} | |`)
    }
  }
  return rows
}

function report (s: Summary, r: Summary, scores: readonly ScenarioScore[], c: Costs, engines: readonly string[]): string {
  const b = bargeInSchema.parse({})
  const sorted = (x: Summary): number[] => [...x.extraDelays].sort((p, q) => p - q)
  const late = (x: Summary): string => `${percentile(sorted(x), 50)} / ${percentile(sorted(x), 90)} / ${sorted(x).at(-1) ?? 0} ms`
  const pct = (n: number, d: number): string => d === 0 ? 'n/a' : `${(100 * n / d).toFixed(1)} %`
  const byKind = (name: string, match: (sc: ScenarioScore) => boolean): string => {
    const set = scores.filter(match)
    const count = (pick: (x: ScenarioScore) => readonly number[]): number =>
      set.reduce((n, x) => n + pick(x).filter((at) => !onDtmf(x.scenario, at)).length, 0)
    return `| ${name} | ${set.length} | ${count((x) => x.vad.falsePauses)} | ${count((x) => x.reference?.falsePauses ?? [])} | ${count((x) => x.guarded.falsePauses)} |`
  }
  const later = scores.filter((x) => x.guarded.keptAt !== undefined && x.reference?.keptAt !== undefined && x.guarded.keptAt > x.reference.keptAt).length
  const earlier = scores.filter((x) => x.guarded.keptAt !== undefined && x.reference?.keptAt !== undefined && x.guarded.keptAt < x.reference.keptAt).length
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  const verdicts = scores.reduce((n, x) => n + x.activeFrames + x.idleFrames, 0)
  const mismatches = scores.reduce((n, x) => n + (x.referenceMismatches ?? 0), 0)
  return [
    '## Echo: false barge-ins from our own output',
    '',
    `Command: \`node --import tsx bench/echo.ts${compareDir === undefined ? '' : ' --compare=DIR'}\`. Machine: ${cpus().length} × ${cpu}, Node ${process.version}. ` +
      `Date: ${new Date().toISOString()}. Voices: ${engines.join(', ')} (espeak-ng adds Italian and German when installed).`,
    '',
    `${s.scenarios} scenarios of ~15 s at 8 kHz (bench/echo-set.ts): the agent's speech comes back through the`,
    'simulator\'s line echo (20, 60, 120, 200, 300 ms; ERL 6, 10, 15, 25 dB; hybrid and handset paths; line',
    'noise at -60 and -45 dBFS; G.711 A-law), with timestamp jitter, DTMF, a 120 ms stall in our sending,',
    'an echo whose delay moves by 3-22 ms from one prompt to the next (FreeSWITCH\'s write tick),',
    'and in half of them a caller talking over the agent (-18 to -30 dBFS, flite and espeak-ng voices); then',
    'lines without echo, where every barge-in must be kept (callers from 0.1 s into the agent\'s speech).',
    `The VAD is the barge-in watcher's: a speech start at ${b.pauseAfterMs} ms of voice pauses the agent, ` +
      `${b.minSpeechMs} ms confirms. With the guard, frames it calls echo-only reach the VAD as silence.`,
    '"Before": the frozen copy of the guard that looked at every delay on every 5 ms block (test/media-stream/echo-reference.ts,',
    'the verdicts of every guard up to 331e288); "now": today\'s, which looks at every delay once every 120 ms once it knows the line.',
    '',
    '| measure | VAD alone | VAD + guard before | VAD + guard now | target |',
    '|---|---|---|---|---|',
    `| false pauses (speech starts on echo, ${b.pauseAfterMs} ms) | ${s.falsePauses.vad} | ${r.falsePauses.guarded} | ${s.falsePauses.guarded} | 0 |`,
    `| false barge-ins (speech starts on echo, ${b.minSpeechMs} ms) | ${s.falseBargeIns.vad} | ${r.falseBargeIns.guarded} | ${s.falseBargeIns.guarded} | 0 |`,
    `| real barge-ins kept (of ${s.detectable} the VAD finds on the same line without echo) | | ${r.kept} (${pct(r.kept, r.detectable)}) | ${s.kept} (${pct(s.kept, s.detectable)}) | ≥ 95 % |`,
    `| detection later than without echo: p50 / p90 / max | | ${late(r)} | ${late(s)} | |`,
    ...lateness(scores),
    `| starts on the caller's DTMF (a tone's first, partial frame reads as voiced) | ${s.dtmfStarts.vad} | ${r.dtmfStarts.guarded} | ${s.dtmfStarts.guarded} | see below |`,
    '',
    '| scenarios | count | false pauses, VAD alone | guard before | guard now |',
    '|---|---|---|---|---|',
    byKind('echo only', (x) => x.scenario.caller === undefined && x.scenario.dtmf === undefined && x.scenario.stall === undefined && x.scenario.promptShiftMs === undefined),
    byKind('echo whose delay moves between prompts (by 3-22 ms: the write tick\'s phase)', (x) => x.scenario.promptShiftMs !== undefined),
    byKind('echo + a 120 ms stall in our sending', (x) => x.scenario.stall !== undefined),
    byKind('echo + DTMF (starts on the DTMF itself not counted)', (x) => x.scenario.dtmf !== undefined),
    byKind('echo + a caller talking over the agent', (x) => x.scenario.caller !== undefined && x.scenario.echo.attenuationDb < 100),
    byKind('no echo, a caller talking over the agent', (x) => x.scenario.echo.attenuationDb >= 100),
    '',
    `Verdicts (${verdicts} caller's frames): ${mismatches} differ from the frozen copy's (${pct(mismatches, verdicts)}); real barge-ins`,
    `detected later than with it: ${later}, earlier: ${earlier}.`,
    '',
    `Cost (load average ${loadStart.map((l) => l.toFixed(2)).join(', ')} at the start, ${loadavg().map((l) => l.toFixed(2)).join(', ')} at the end), one echo scenario replayed and the same line without echo (steady state),`,
    `today's guard ("after") and ${compareDir === undefined ? 'the frozen copy (the 0496fee code, slower than the guard just before this change: see --compare)' : 'DIR\'s guard'} ("before") alternately, the best of 10 replays each:`,
    '',
    '| | before µs per 20 ms frame | after µs per 20 ms frame | after: share of one core per call |',
    '|---|---|---|---|',
    `| guard, caller's frame while our output may be echoing, line with echo | ${c.echo.before.activeUs.toFixed(1)} | ${c.echo.after.activeUs.toFixed(1)} | ${(c.echo.after.activeUs / 200).toFixed(3)} % |`,
    `| … while the line is learnt (the first second or so of our speech) | ${c.echo.before.learningUs.toFixed(1)} | ${c.echo.after.learningUs.toFixed(1)} | |`,
    `| … once its echo's delay is known | ${c.echo.before.knownUs.toFixed(1)} | ${c.echo.after.knownUs.toFixed(1)} | ${(c.echo.after.knownUs / 200).toFixed(3)} % |`,
    `| the same, line without echo | ${c.clear.before.activeUs.toFixed(1)} | ${c.clear.after.activeUs.toFixed(1)} | ${(c.clear.after.activeUs / 200).toFixed(3)} % |`,
    `| … while the line is learnt | ${c.clear.before.learningUs.toFixed(1)} | ${c.clear.after.learningUs.toFixed(1)} | |`,
    `| … once it is found clear | ${c.clear.before.knownUs.toFixed(1)} | ${c.clear.after.knownUs.toFixed(1)} | ${(c.clear.after.knownUs / 200).toFixed(3)} % |`,
    `| guard, caller's frame otherwise (we were silent for 400 ms) | ${c.echo.before.idleUs.toFixed(2)} | ${c.echo.after.idleUs.toFixed(2)} | ${(c.echo.after.idleUs / 200).toFixed(4)} % |`,
    `| guard, each frame we send | ${c.echo.before.outboundUs.toFixed(1)} | ${c.echo.after.outboundUs.toFixed(1)} | ${(c.echo.after.outboundUs / 200).toFixed(3)} % |`,
    `| the VAD, each caller's frame (for scale) | | ${c.vadUs.toFixed(1)} | ${(c.vadUs / 200).toFixed(3)} % |`,
    '',
    `Memory: ${(c.bytesPerGuard.after / 1024).toFixed(1)} KB per guard (one per call; before ${(c.bytesPerGuard.before / 1024).toFixed(1)}). The machine is shared: CPU figures vary by ±30 % between runs.`,
    ...(process.env.ECHO_BENCH_NOTES ?? '').split('\n').filter((l) => l !== ''),
    '',
    'Starts on DTMF are the VAD\'s own: a DTMF digit\'s first frame, partly tone and partly silence or',
    `noise, is classed voiced, and three digits within ${b.pauseAfterMs} ms of voice pause the agent with or without echo`,
    '(test with `signals.dtmf` and `minSpeechMs: 60`). The guard does not hide them: the tone is not our echo.',
  ].join('\n')
}
