/**
 * Where a call's media CPU goes in our JavaScript, per 20 ms frame, stage by stage, around the
 * real code: what a stream call runs for each datagram after Node hands it over (0xFF check and
 * frame view, the echo guard's inbound check, the pre-roll history, the VAD, as
 * lib/call/turn-media-stream.ts and stream/hear.ts chain them) and for each frame it sends (the
 * echo guard's noteOutbound). 100 calls round robin, each with its own state, so caches see a
 * server's spread of state; each datagram is a fresh Buffer, as Node's receive makes one.
 * The socket work itself (Node's dgram and the kernel) is bench/media-hot-path.ts's.
 *
 * Stage times are wall-clock slices scaled to the pass's CPU time (process.cpuUsage): the machine
 * is shared. Memory: what 200 calls keep in these pieces after 3 s of audio (heap + external,
 * after a GC), per call, all of them and each piece alone; and what each piece allocates per
 * talking frame (the young generation's growth over stretches without a scavenge): garbage that
 * the scavenges must clear, and that a full GC finds if it lives long enough to be promoted.
 *
 * Run: node --import tsx bench/media-stages.ts [--no-write] [--compare=DIR] [--runs=N]
 * (--compare=DIR: DIR an older tree with this file copied in; both run alternately, N times
 * (default 3), in fresh processes, the medians reported.)
 */
import { execFileSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { EchoGuard } from '../lib/media/echo.ts'
import { decodeFrame, frameSamples, isPreRtpFrame } from '../lib/media/stream/frame.ts'
import * as inbound from '../lib/media/stream/inbound.ts'
import type { InboundFrame } from '../lib/media/stream/inbound.ts'
import { Vad } from '../lib/media/vad/vad.ts'
import { concat, frames, mix, silence, speechLike, whiteNoise } from '../test/media-stream/signals.ts'
import { spliceSection } from './sections.ts'

const RATE = 8000
const KEEP = Math.ceil((300 + 2000) / 20) // turn-media-stream: preRollMs 300 + confirmation slack
export const STAGES = ['receive', 'echo inbound', 'pre-roll', 'vad', 'echo outbound'] as const
type Stage = typeof STAGES[number]
/** The pieces a call keeps, measured alone. */
export const PIECES = ['echo guard', 'vad', 'pre-roll'] as const
type Piece = typeof PIECES[number]

export interface StageResult {
  /** CPU µs per frame (one received and one sent) by stage, and all of them. */
  readonly quiet: Record<Stage | 'total', number>
  readonly talking: Record<Stage | 'total', number>
  /** Talking on a line without echo (the echo guard finds none: turn-cpu's callers' line). */
  readonly talkingClear: Record<Stage | 'total', number>
  /** What one call keeps in these pieces, KB. */
  readonly kbPerCall: number
  /** Each piece alone, KB per call (absent from runs before it was measured). */
  readonly kbByPiece?: Record<Piece, number>
  /** Bytes each piece allocates per frame of a talking call on the echo line (young generation). */
  readonly allocByPiece?: Record<Piece, number>
}

/** A pre-roll as this tree keeps it: FrameHistory where it exists, else the array of frames. */
interface PreRoll { push (f: InboundFrame): void }
const History = (inbound as Record<string, unknown>).FrameHistory as (new (n: number, options?: Record<string, number>) => PreRoll) | undefined
/** As turn-media-stream.ts sets it up (the VAD's default minEnergyDb, -45 dBFS); a tree before these options ignores them. */
const QUIET = { quietFrames: Math.ceil((300 + 200) / 20), loudPeak: Math.floor(32768 * 10 ** (-45 / 20) * 0.99), holdFrames: Math.ceil(2000 / 20) }
function preRoll (): PreRoll {
  if (History !== undefined) return new History(KEEP, QUIET)
  const ring: InboundFrame[] = []
  return { push: (f) => { ring.push(f); if (ring.length > KEEP) ring.shift() } }
}
/** Before FrameHistory, the call's sent-frame listener decoded each frame for the guard. */
const outbound = (samples: Int16Array, bytes: Buffer): Int16Array => History !== undefined ? samples : decodeFrame(bytes)

interface Call { echo: EchoGuard, vad: Vad, history: PreRoll, seq: number }

function newCall (): Call {
  return { echo: new EchoGuard({ rate: RATE }), vad: new Vad({ rate: RATE }), history: preRoll(), seq: 0 }
}

/** 10 s of a call: what the caller sends and what we send, frame by frame. */
function script (talking: boolean, echoing = true): { caller: Int16Array[], ours: Int16Array[] } {
  const line = (s: number, seed: number): Int16Array => whiteNoise(RATE, s, -62, seed)
  if (!talking) return { caller: frames(line(10, 1), RATE), ours: frames(silence(RATE, 10), RATE) }
  // The caller talks 37 % of the time; we reply for 4 s, our echo coming back 10 dB down, 200 ms
  // late (or, on a line without echo, not at all).
  const ours = concat([silence(RATE, 4), speechLike(RATE, 4, -18, { seed: 3 }), silence(RATE, 2)])
  const echo = concat([silence(RATE, 0.2), ours.map((v) => echoing ? Math.round(v * 0.316) : 0)]).subarray(0, ours.length)
  const caller = mix(concat([line(0.3, 2), speechLike(RATE, 3.7, -20, { seed: 4 }), line(6, 5)]), echo)
  return { caller: frames(caller, RATE), ours: frames(ours, RATE) }
}

function cpuUs (): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

/** One pass of `seconds` of the script over `calls` calls; stage times are wall µs. */
function pass (calls: Call[], sc: { caller: Int16Array[], ours: Int16Array[] }, frameCount: number, t0: number, acc: Record<Stage, number> | undefined): void {
  const sendBytes = Buffer.alloc(RATE / 50 * 2)
  for (let i = 0; i < frameCount; i++) {
    const k = i % sc.caller.length
    const now = t0 + i * 20
    const ours = sc.ours[k] as Int16Array
    const theirs = sc.caller[k] as Int16Array
    sendBytes.set(new Uint8Array(ours.buffer, ours.byteOffset, ours.byteLength))
    for (const call of calls) {
      const datagram = Buffer.from(theirs.buffer, theirs.byteOffset, theirs.byteLength)
      const fresh = Buffer.allocUnsafeSlow(datagram.length)
      datagram.copy(fresh)
      let a = performance.now()
      call.echo.noteOutbound(outbound(ours, sendBytes), now)
      let b = performance.now()
      if (acc !== undefined) acc['echo outbound'] += b - a
      const gap = isPreRtpFrame(fresh)
      const frame: InboundFrame = { samples: frameSamples(fresh, gap), sampleRate: RATE, seq: call.seq++, mediaMs: i * 20, receivedAt: now + 30 }
      a = performance.now()
      if (acc !== undefined) acc.receive += a - b
      const echoOnly = call.echo.inbound(frame.samples, frame.receivedAt).echoOnly
      const vadFrame = echoOnly ? { ...frame, vadSamples: new Int16Array(frame.samples.length) } : frame
      b = performance.now()
      if (acc !== undefined) acc['echo inbound'] += b - a
      call.history.push(History !== undefined ? frame : vadFrame)
      a = performance.now()
      if (acc !== undefined) acc['pre-roll'] += a - b
      void Date.now()
      call.vad.push(vadFrame.vadSamples ?? vadFrame.samples, vadFrame.mediaMs)
      if (acc !== undefined) acc.vad += performance.now() - a
    }
  }
}

function measure (talking: boolean, calls = 100, seconds = 20, echoing = true): Record<Stage | 'total', number> {
  const list = Array.from({ length: calls }, newCall)
  const sc = script(talking, echoing)
  pass(list, sc, 250, 0, undefined) // warm-up (JIT)
  const acc = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>
  const frameCount = seconds * 50
  const c0 = cpuUs()
  const w0 = performance.now()
  pass(list, sc, frameCount, 5000, acc)
  const wall = (performance.now() - w0) * 1000
  const cpu = cpuUs() - c0
  const per = calls * frameCount
  const scale = cpu / wall // CPU µs per wall µs of the pass
  const out = Object.fromEntries(STAGES.map((s) => [s, acc[s] * 1000 * scale / per])) as Record<Stage | 'total', number>
  out.total = STAGES.reduce((n, s) => n + out[s], 0)
  return out
}

function memoryKb (calls = 200): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const used = (): number => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.external }
  const sc = script(true)
  const keep: Call[] = []
  const m0 = used()
  for (let i = 0; i < calls; i++) keep.push(newCall())
  pass(keep, sc, 150, 0, undefined)
  const m1 = used()
  if (keep.length !== calls) throw new Error('unreachable')
  return (m1 - m0) / calls / 1024
}

/** One piece of a call, fed alone: the caller's frame (and ours, for the echo guard) at frame i. */
interface Fed { feed (theirs: Int16Array, ours: Int16Array, i: number): void }

function piece (which: Piece): Fed {
  if (which === 'echo guard') {
    const echo = new EchoGuard({ rate: RATE })
    return { feed: (theirs, ours, i) => { echo.noteOutbound(ours, i * 20); echo.inbound(theirs, i * 20 + 30) } }
  }
  if (which === 'vad') {
    const vad = new Vad({ rate: RATE })
    return { feed: (theirs, _ours, i) => { vad.push(theirs, i * 20) } }
  }
  const history = preRoll()
  // The frame object is the endpoint's (made per datagram whether or not anything keeps it).
  const frames = Array.from({ length: 2 }, () => ({ samples: new Int16Array(0), sampleRate: RATE, seq: 0, mediaMs: 0, receivedAt: 0, vadSamples: undefined }))
  return {
    feed: (theirs, _ours, i) => {
      const f = frames[i & 1] as { samples: Int16Array, seq: number, mediaMs: number, receivedAt: number }
      f.samples = theirs
      f.seq = i
      f.mediaMs = i * 20
      f.receivedAt = i * 20 + 30
      history.push(f as InboundFrame)
    },
  }
}

/**
 * What `calls` of one piece keep after 3 s of the talking script, KB per call. A few are fed
 * first, so that the code V8 compiles for them (counted in the heap) is not counted per call.
 */
function pieceKb (which: Piece, calls = 500): number {
  const gc = runInNewContext('gc') as () => void
  const used = (): number => { gc(); gc(); const m = process.memoryUsage(); return m.heapUsed + m.external }
  const sc = script(true)
  const feed = (list: Fed[]): void => { for (let i = 0; i < 150; i++) for (const p of list) p.feed(sc.caller[i] as Int16Array, sc.ours[i] as Int16Array, i) }
  feed(Array.from({ length: 20 }, () => piece(which)))
  const m0 = used()
  const keep = Array.from({ length: calls }, () => piece(which))
  feed(keep)
  const m1 = used()
  if (keep.length !== calls) throw new Error('unreachable')
  return (m1 - m0) / calls / 1024
}

/**
 * Bytes one piece allocates per frame of the talking script (10 s, the echo line), 100 calls
 * round robin after a pass of warm-up: the young generation's growth summed over stretches of
 * 10 frames in which no scavenge ran (it did not shrink).
 */
function pieceAlloc (which: Piece, calls = 100): number {
  const newSpace = (): number => getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space')?.space_used_size ?? 0
  const sc = script(true)
  const list = Array.from({ length: calls }, () => piece(which))
  const run = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const k = i % sc.caller.length
      for (const p of list) p.feed(sc.caller[k] as Int16Array, sc.ours[k] as Int16Array, i)
    }
  }
  run(0, 2 * sc.caller.length) // warm-up (JIT)
  let bytes = 0
  let frames = 0
  for (let i = 2 * sc.caller.length; i < 4 * sc.caller.length; i += 10) {
    const a = newSpace()
    run(i, i + 10)
    const b = newSpace()
    if (b >= a) { bytes += b - a; frames += 10 * calls }
  }
  return frames === 0 ? Number.NaN : bytes / frames
}

/** Each piece alone: KB a call keeps, bytes allocated per talking frame. */
export function runPieces (): Pick<StageResult, 'kbByPiece' | 'allocByPiece'> {
  setFlagsFromString('--expose-gc')
  const kbByPiece = Object.fromEntries(PIECES.map((p) => [p, pieceKb(p)])) as Record<Piece, number>
  const allocByPiece = Object.fromEntries(PIECES.map((p) => [p, pieceAlloc(p)])) as Record<Piece, number>
  return { kbByPiece, allocByPiece }
}

export function runStages (): StageResult {
  const pieces = runPieces()
  return { quiet: measure(false), talking: measure(true), talkingClear: measure(true, 100, 20, false), kbPerCall: memoryKb(), ...pieces }
}

function runChild (tree: string): StageResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(tree, 'bench/media-stages.ts'), '--no-write'], { cwd: tree, encoding: 'utf8' })
  return (JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { after: StageResult }).after
}

function median (rows: StageResult[]): StageResult {
  const mid = (f: (r: StageResult) => number): number => rows.map(f).sort((a, b) => a - b)[rows.length >> 1] ?? Number.NaN
  const col = (k: 'quiet' | 'talking' | 'talkingClear'): Record<Stage | 'total', number> =>
    Object.fromEntries([...STAGES, 'total' as const].map((s) => [s, mid((r) => r[k][s])])) as Record<Stage | 'total', number>
  const pieces = (k: 'kbByPiece' | 'allocByPiece'): Record<Piece, number> | undefined => rows.every((r) => r[k] !== undefined)
    ? Object.fromEntries(PIECES.map((p) => [p, mid((r) => (r[k] as Record<Piece, number>)[p])])) as Record<Piece, number>
    : undefined
  const kbByPiece = pieces('kbByPiece')
  const allocByPiece = pieces('allocByPiece')
  return {
    quiet: col('quiet'),
    talking: col('talking'),
    talkingClear: col('talkingClear'),
    kbPerCall: mid((r) => r.kbPerCall),
    ...(kbByPiece === undefined ? {} : { kbByPiece }),
    ...(allocByPiece === undefined ? {} : { allocByPiece }),
  }
}

export function stagesSection (before: StageResult | undefined, after: StageResult, notes: readonly string[], at = new Date(), runs = 3): string {
  const f = (v: number | undefined): string => v === undefined ? '-' : v.toFixed(2)
  const row = (s: Stage | 'total'): string => `| ${s} | ${f(before?.quiet[s])} | ${f(after.quiet[s])} | ${f(before?.talking[s])} | ${f(after.talking[s])} | ${f(before?.talkingClear[s])} | ${f(after.talkingClear[s])} |`
  return [
    '<!-- media-stages:begin -->',
    '## Media stages: our JavaScript per frame, stage by stage (`bench/media-stages.ts`)',
    '',
    `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC, \`node --import tsx bench/media-stages.ts${before === undefined ? '' : ` --compare=DIR${runs === 3 ? '' : ` --runs=${runs}`}`}\`, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(', ')} (a shared machine: CPU time, not wall time).`,
    '100 calls round robin at 8 kHz, 20 s each; per frame = one datagram received and one frame sent. Quiet: the caller',
    'sends -62 dBFS line noise, we send silence. Talking: the caller talks 37 % of the time, we reply 4 s of 10, our echo',
    'back 10 dB down; no echo: the same on a line without echo (the guard finds none, as on turn-cpu\'s line).',
    'Stage times are wall slices scaled to the pass\'s CPU time; the socket work is not here (see media-hot-path).',
    ...(before === undefined ? [] : [`Before: the tree before this change (DIR), this file copied in; medians of ${runs} alternating runs each.`]),
    '',
    '| stage (µs CPU per frame) | quiet before | quiet after | talking before | talking after | no echo before | no echo after |',
    '|---|---|---|---|---|---|---|',
    ...STAGES.map(row),
    row('total'),
    '',
    `What a call keeps in these pieces (echo guard, classic VAD, pre-roll after 3 s), KB per call: ${before === undefined ? '' : `before ${before.kbPerCall.toFixed(1)}, `}${before === undefined ? '' : 'after '}${after.kbPerCall.toFixed(1)}.`,
    ...pieceTable(before, after),
    ...(notes.length === 0 ? [] : ['', ...notes]),
    '<!-- media-stages:end -->',
  ].join('\n')
}

/** Each piece alone: what a call keeps, and what it allocates per talking frame. */
function pieceTable (before: StageResult | undefined, after: StageResult): string[] {
  if (after.kbByPiece === undefined || after.allocByPiece === undefined) return []
  const f = (v: number | undefined, digits: number): string => v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits)
  const cols = before === undefined ? ['KB per call', 'bytes allocated per talking frame'] : ['KB per call before', 'after', 'bytes allocated per talking frame before', 'after']
  return [
    '',
    'Each piece alone (500 calls after 3 s of the talking script; allocation: 100 calls on the echo line, the young generation\'s growth between scavenges):',
    '',
    `| piece | ${cols.join(' | ')} |`,
    `|---|${cols.map(() => '---').join('|')}|`,
    ...PIECES.map((p) => before === undefined
      ? `| ${p} | ${f(after.kbByPiece?.[p], 1)} | ${f(after.allocByPiece?.[p], 0)} |`
      : `| ${p} | ${f(before.kbByPiece?.[p], 1)} | ${f(after.kbByPiece?.[p], 1)} | ${f(before.allocByPiece?.[p], 0)} | ${f(after.allocByPiece?.[p], 0)} |`),
  ]
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const compare = process.argv.find((a) => a.startsWith('--compare='))?.slice('--compare='.length)
  const runs = Math.max(1, Number(process.argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 3) || 3)
  let before: StageResult | undefined
  let after: StageResult
  if (compare === undefined) {
    after = runStages()
  } else {
    const here = fileURLToPath(new URL('..', import.meta.url))
    const b: StageResult[] = []
    const a: StageResult[] = []
    for (let i = 0; i < runs; i++) {
      b.push(runChild(compare))
      a.push(runChild(here))
    }
    before = median(b)
    after = median(a)
  }
  process.stdout.write(`${JSON.stringify({ before, after })}\n`)
  if (!process.argv.includes('--no-write')) {
    const file = new URL('../BENCHMARKS.md', import.meta.url)
    const notes = (process.env.MEDIA_STAGES_NOTES ?? '').split('\n').filter((l) => l !== '')
    await writeFile(file, spliceSection(await readFile(file, 'utf8'), 'media-stages', stagesSection(before, after, notes, new Date(), runs)))
  }
}
