/**
 * Idle calls' pacing cost (call-pacer.ts, quiet-idle.ts): N endpoints on the shared scheduler,
 * each receiving FreeSWITCH's frames of a quiet line on a phase of its own (20 phases 1 ms apart,
 * as timerfd write timers start wherever the call's RTP did) and sending back what the pacer
 * decides. Three modes, alternating in one process so the same inbound load and the machine's
 * load hit each alike:
 * - `grid`: no write-tick alignment, silence on every shared grid tick;
 * - `aligned`: silence just before each call's write tick, on every tick (warm always: the
 *   behaviour before quiet-idle.ts);
 * - `quiet`: the matrix write timer's pacing once the call has gone cold (its warm window,
 *   shortened here to 1 s, has passed with no sound from the caller): one keep-alive frame a second;
 * - `timerfd`: the endpoint told FreeSWITCH writes on timerfd (media.stream.writeTimer's default):
 *   no warm window and no write clock, the keep-alive alone, whether or not the caller talks.
 * Prints CPU per second of each run (this process: our side, plus this bench's own 50 datagrams
 * a second per call to the endpoints and its reading of what they send), timer wake-ups per frame
 * and datagrams sent per call per frame.
 * Run: node --expose-gc --import tsx bench/pacer-idle.ts [calls] [seconds] [--write]
 * (--write: rewrites the `pacer-idle` section of BENCHMARKS.md with the medians.)
 */
import dgram from 'node:dgram'
import { once } from 'node:events'
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { MediaEndpoint } from '../lib/media/stream/endpoint.ts'
import { FrameScheduler, monotonicClock } from '../lib/media/stream/scheduler.ts'
import { spliceSection } from './sections.ts'

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const calls = Number(args[0] ?? 500)
const seconds = Number(args[1] ?? 5)
const logger = pino({ level: 'warn' })
const PHASES = 20
const MODES = ['grid', 'aligned', 'quiet', 'timerfd'] as const
type Mode = typeof MODES[number]

interface Run { mode: Mode, cpuPerSecond: number, wakeupsPerFrame: number, idleSkipped: number, sentPerFrame: number }

async function run (mode: Mode): Promise<Run> {
  const fs = dgram.createSocket('udp4')
  fs.on('message', () => {})
  fs.bind(0, '127.0.0.1')
  await once(fs, 'listening')
  const peer = { address: '127.0.0.1', port: fs.address().port }
  let fires = 0
  const scheduler = new FrameScheduler({
    timers: { set: (fn, ms) => setTimeout(() => { fires++; fn() }, ms), clear: (h) => { clearTimeout(h as NodeJS.Timeout) } },
  })
  const options = mode === 'timerfd'
    ? { rate: 8000, logger, scheduler, peer, writeTimer: 'timerfd' as const }
    : { rate: 8000, logger, scheduler, peer, writeTimer: 'matrix' as const, alignToWriteTicks: mode !== 'grid', warmIdleMs: mode === 'quiet' ? 1000 : Number.POSITIVE_INFINITY }
  const endpoints = await Promise.all(Array.from({ length: calls }, async () => await MediaEndpoint.open(options)))
  // FreeSWITCH's frames of a quiet line (about -60 dBFS): one 20 ms stream per phase, each to its share of the endpoints.
  const frame = Buffer.alloc(320)
  for (let i = 0; i < 160; i++) frame.writeInt16LE((i % 7) * 10 - 30, i * 2)
  const streams: NodeJS.Timeout[] = []
  for (let p = 0; p < PHASES; p++) {
    await sleep(1)
    const mine = endpoints.filter((_, i) => i % PHASES === p)
    streams.push(setInterval(() => { for (const ep of mine) fs.send(frame, ep.localAddress.port, '127.0.0.1') }, 20))
  }
  await sleep(2000) // the ticks placed, the settling gap over, the quiet calls cold
  global.gc?.()
  const fires0 = fires
  const sent0 = endpoints.reduce((n, ep) => n + ep.stats.sent, 0)
  const cpu0 = process.cpuUsage()
  const t0 = monotonicClock.now()
  await sleep(seconds * 1000)
  const elapsed = (monotonicClock.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const frames = elapsed * 50
  const result = {
    mode,
    cpuPerSecond: Number(((cpu.user + cpu.system) / 1e6 / elapsed).toFixed(3)),
    wakeupsPerFrame: Number(((fires - fires0) / frames).toFixed(2)),
    idleSkipped: endpoints.reduce((n, ep) => n + ep.stats.idleSkipped, 0),
    sentPerFrame: Number(((endpoints.reduce((n, ep) => n + ep.stats.sent, 0) - sent0) / frames / calls).toFixed(3)),
  }
  for (const s of streams) clearInterval(s)
  await Promise.all(endpoints.map(async (ep) => { await ep.close() }))
  fs.close()
  return result
}

function median (values: number[]): number {
  const v = [...values].sort((a, b) => a - b)
  return v[Math.floor(v.length / 2)] ?? Number.NaN
}

const loadAtStart = loadavg()[0] ?? 0
const runs: Run[] = []
for (let round = 0; round < 3; round++) for (const mode of MODES) runs.push(await run(mode))
const loadAtEnd = loadavg()[0] ?? 0
console.log(JSON.stringify({ calls, seconds, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtEnd, runs }, null, 2))

if (process.argv.includes('--write')) {
  const med = (mode: Mode, k: keyof Omit<Run, 'mode'>): number => median(runs.filter((r) => r.mode === mode).map((r) => r[k]))
  const row = (mode: Mode, what: string): string => `| ${mode} | ${what} | ${med(mode, 'cpuPerSecond').toFixed(3)} | ${(med(mode, 'cpuPerSecond') * 100 / calls).toFixed(3)} | ${med(mode, 'wakeupsPerFrame').toFixed(2)} | ${med(mode, 'sentPerFrame').toFixed(3)} |`
  const section = [
    '<!-- pacer-idle:begin -->',
    '## Idle calls\' pacing (`bench/pacer-idle.ts`)',
    '',
    `${new Date().toISOString().slice(0, 10)}, \`node --expose-gc --import tsx bench/pacer-idle.ts ${calls} ${seconds} --write\`, ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, load average ${loadAtStart.toFixed(1)} at the start, ${loadAtEnd.toFixed(1)} at the end (a shared machine).`,
    `${calls} idle endpoints on one scheduler, each fed a quiet line (about -60 dBFS) by this process on one of 20 phases; medians of 3 alternating runs of ${seconds} s per mode. CPU is this whole process: our side plus the bench's own sends to the endpoints and its reading of theirs (the latter shrinks with what we send).`,
    '',
    '| mode | what the idle call sends | CPU (cores) | % of a core per call | timer wake-ups per frame | datagrams per call per frame |',
    '|---|---|---|---|---|---|',
    row('grid', 'silence on every shared 20 ms tick (no write-tick alignment)'),
    row('aligned', 'silence just before each of its write ticks, always (before quiet-idle.ts)'),
    row('quiet', 'matrix write timer, once cold (no sound from the caller, no audio of ours for the warm window): one keep-alive frame a second'),
    row('timerfd', 'FreeSWITCH on timerfd (`media.stream.writeTimer`, the default): the keep-alive alone from the start, talking caller or not'),
    '',
    'A cold call has no lane of its own on either timer (its wake-ups are the shared grid\'s, which asks each call each tick); quiet and timerfd differ only once the caller talks: on the matrix timer the call is then warm for 5 s (silence on every tick, as in aligned), on timerfd it stays at the keep-alive.',
    '<!-- pacer-idle:end -->',
  ].join('\n')
  const file = new URL('../BENCHMARKS.md', import.meta.url)
  let doc = ''
  try { doc = await readFile(file, 'utf8') } catch {}
  await writeFile(file, spliceSection(doc, 'pacer-idle', section))
}
