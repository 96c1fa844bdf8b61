/**
 * What one call holds in the load bench's server (issue 18: ≤ 0.1 MB per call), by kind of
 * object: a V8 heap snapshot of the server (bench/load-server.ts) with N calls up and another
 * with 2N, compared by constructor; (2N - N) / N leaves out what does not grow with the calls
 * (modules, the JIT's code, pools).
 * Quiet (the default): the turn-cpu bench's calls (the JavaScript simulator, a -60 dBFS line, the
 * caller silent), cold (past the 5 s warm window) when measured.
 * `--talk`: the load bench's calls (bench/native/media-gen.c, the callers talking 37 % of every
 * 10 s, one AI turn each per cycle, spread over the cycle), measured mid-conversation: each
 * snapshot after TALK_SETTLE_MS of talk, so the calls are caught in every phase of a turn
 * (listening, waiting for the providers, a reply playing, quiet after it).
 *   node --import tsx bench/load-heap.ts [--calls=N] [--talk] [--keep=DIR]
 * Prints the table (bytes per call by constructor, the largest first) and the JSON totals.
 * Snapshots go to a temporary directory, removed at the end unless --keep=DIR.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { encodeWav } from '../lib/media/wav.ts'
import { FakeFreeSwitch, type SimulatedCall } from '../lib/simulator/index.ts'
import { whiteNoise } from '../test/media-stream/signals.ts'
import { pinApart, unpinDriver } from './capacity-child.ts'
import { FakesProcess, LoadServer } from './load-children.ts'
import { buildMediaGenerator, NativeMedia, writeCallerSpeech } from './load-media.ts'
import { LOAD_DID } from './load-protocol.ts'
import { sampleMemory } from './load.ts'

/** Long enough for both snapshots: the calls are hung up before. */
const CALL_MS = 120_000
/** After the last call is placed: every call streaming and past its warm window (quiet-idle.ts). */
const SETTLE_MS = 7000
/** Talking: two cycles (10 s each), so every new call has had a turn or two and is in its stride. */
const TALK_SETTLE_MS = 25_000

/** Self size and count per (node type, name), the name being the constructor for objects. */
export type HeapByKind = Map<string, { bytes: number, count: number }>

/** Aggregate a .heapsnapshot file by node type and name. */
export function heapByKind (json: string): HeapByKind {
  const snap = JSON.parse(json) as { snapshot: { meta: { node_fields: string[], node_types: [string[]] } }, nodes: number[], strings: string[] }
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const out: HeapByKind = new Map()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] as number] ?? '?'
    // Strings and numbers are named by their content: one bucket each.
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? '' : (snap.strings[snap.nodes[i + nameAt] as number] ?? '?')
    const key = `${type}:${name.length > 60 ? `${name.slice(0, 57)}...` : name}`
    const e = out.get(key) ?? { bytes: 0, count: 0 }
    e.bytes += snap.nodes[i + sizeAt] as number
    e.count++
    out.set(key, e)
  }
  return out
}

/** Per call, (b - a) / calls by kind, largest first, kinds of at least `minBytes` a call. */
export function perCall (a: HeapByKind, b: HeapByKind, calls: number, minBytes = 200): Array<{ kind: string, bytes: number, count: number }> {
  const rows: Array<{ kind: string, bytes: number, count: number }> = []
  for (const [kind, e] of b) {
    const before = a.get(kind) ?? { bytes: 0, count: 0 }
    const bytes = (e.bytes - before.bytes) / calls
    if (Math.abs(bytes) >= minBytes) rows.push({ kind, bytes: Math.round(bytes), count: Math.round((e.count - before.count) / calls * 10) / 10 })
  }
  return rows.sort((x, y) => y.bytes - x.bytes)
}

async function placeQuiet (fs: FakeFreeSwitch, port: number, n: number, serial: { n: number }, wav: Buffer): Promise<SimulatedCall[]> {
  const calls: SimulatedCall[] = []
  for (let i = 0; i < n; i++) {
    const k = serial.n++
    calls.push(fs.placeCall({ port, destination: LOAD_DID, callerNumber: `+39333${String(2_000_000 + k)}`, caller: { audio: [{ atMs: 0, wav }], hangupAtMs: CALL_MS } }))
    await sleep(20)
  }
  return calls
}

/** Talking calls on the native generator (its talk switch is on): placed 20 ms apart, as the load bench ramps. */
async function placeTalking (fs: FakeFreeSwitch, port: number, n: number, serial: { n: number }, gen: NativeMedia): Promise<SimulatedCall[]> {
  const calls: SimulatedCall[] = []
  for (let i = 0; i < n; i++) {
    const k = serial.n++
    calls.push(fs.placeCall({ port, destination: LOAD_DID, callerNumber: `+39333${String(2_000_000 + k)}`, unicastEngine: gen, maxCallMs: 3_600_000 }))
    await sleep(20)
  }
  return calls
}

function arg (name: string): string | undefined {
  return process.argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = Number(arg('calls') ?? 20)
  const keep = arg('keep')
  const talking = process.argv.includes('--talk')
  const dir = keep ?? await mkdtemp(join(tmpdir(), 'pa-load-heap-'))
  await mkdir(dir, { recursive: true })
  const loadStart = loadavg()[0]
  const fakes = await FakesProcess.start()
  const fs = new FakeFreeSwitch()
  let server: LoadServer | undefined
  let gen: NativeMedia | undefined
  try {
    server = await LoadServer.start({ fakesPort: fakes.port, dir })
    await pinApart(server.pid)
    const serial = { n: 0 }
    let place: (count: number) => Promise<SimulatedCall[]>
    if (talking) {
      const binary = await buildMediaGenerator()
      if (binary === undefined) throw new Error('--talk needs a C compiler (cc) to build bench/native/media-gen.c')
      const speechPath = join(dir, 'caller.raw')
      await writeCallerSpeech(speechPath, 30)
      const media = gen = await NativeMedia.start({ binary, speechPath, readEvery: 4 })
      await media.talk(true)
      place = async (count) => await placeTalking(fs, server?.port ?? 0, count, serial, media)
    } else {
      const wav = encodeWav({ sampleRate: 8000, channels: 1, samples: whiteNoise(8000, CALL_MS / 1000, -60, 3) })
      place = async (count) => await placeQuiet(fs, server?.port ?? 0, count, serial, wav)
    }
    const settleMs = talking ? TALK_SETTLE_MS : SETTLE_MS
    const placed = await place(n)
    await sleep(settleMs)
    // Talking, the calls' phases at one moment vary: the memory figures are the mean of samples over 4 s.
    const m1 = talking ? await sampleMemory(server, 4000) : await server.memory()
    const a = await server.snapshot(join(dir, 'n.heapsnapshot'))
    placed.push(...await place(n))
    await sleep(settleMs)
    const m2 = talking ? await sampleMemory(server, 4000) : await server.memory()
    const b = await server.snapshot(join(dir, '2n.heapsnapshot'))
    for (const c of placed) c.hangup()
    const rows = perCall(heapByKind(await readFile(a, 'utf8')), heapByKind(await readFile(b, 'utf8')), n)
    const total = rows.reduce((s, r) => s + r.bytes, 0)
    console.log('| kind (snapshot type:name) | bytes per call | objects per call |\n| --- | --- | --- |')
    for (const r of rows.slice(0, 40)) console.log(`| ${r.kind} | ${r.bytes} | ${r.count} |`)
    console.log(JSON.stringify({
      mode: talking ? 'talk' : 'quiet',
      calls: [m1.activeCalls, m2.activeCalls],
      heapBytesPerCall: Math.round((m2.heapUsed - m1.heapUsed) / n),
      externalBytesPerCall: Math.round((m2.external - m1.external) / n),
      arrayBuffersPerCall: Math.round((m2.arrayBuffers - m1.arrayBuffers) / n),
      rssBytesPerCall: Math.round((m2.rss - m1.rss) / n),
      snapshotBytesPerCall: total,
      loadAverage: [loadStart, loadavg()[0]],
    }))
  } finally {
    await gen?.talk(false).catch(() => {})
    await fs.close()
    await gen?.close()
    await server?.stop()
    await fakes.stop()
    await unpinDriver()
    if (keep === undefined) await rm(dir, { recursive: true, force: true })
  }
  process.exit(0)
}
