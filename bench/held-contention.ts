/**
 * Held frames on busy cores, with and without realtime priority for the thread that sends them
 * (media.stream.realtimeSend, lib/media/native/held-send.c).
 *
 * CALLS calls on one shared socket, each a 20 ms frame per tick held 40-59 ms ahead (as a reply's
 * frames are), to a UDP socket per call on loopback, for SECONDS; beside it, `--hogs=N` busy
 * processes (default: one per CPU) stand for event loops and FreeSWITCH keeping the cores busy.
 * Runs alternate: normal priority, realtime, normal, realtime. Prints one JSON line per run: the
 * frames sent, how many left more than 1 ms after they were due (the helper's own count), the
 * latest, and whether realtime priority was granted (root, CAP_SYS_NICE or RLIMIT_RTPRIO >= 1).
 *   node --import tsx bench/held-contention.ts [--hogs=N] [--seconds=S] [--runs=R]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { cpus, loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { loadUdpMuxAddon, type UdpMuxAddon } from '../lib/media/native/udp-mux-addon.ts'
import { UdpMux } from '../lib/media/stream/udp-mux.ts'
import { captureLogs } from '../test/helpers/logs.ts'

const CALLS = 200

function arg (name: string, fallback: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`))
  return a === undefined ? fallback : Number(a.slice(name.length + 3))
}

async function run (addon: UdpMuxAddon, realtime: boolean, seconds: number): Promise<Record<string, unknown>> {
  const { logger } = captureLogs()
  const mux = UdpMux.open(addon, '127.0.0.1', 0, undefined, realtime)
  const sinks: dgram.Socket[] = []
  try {
    const links = []
    for (let i = 0; i < CALLS; i++) {
      const sink = dgram.createSocket('udp4')
      sink.on('message', () => {})
      sink.bind(0, '127.0.0.1')
      await once(sink, 'listening')
      sinks.push(sink)
      const link = mux.link({ address: '127.0.0.1', port: sink.address().port })
      await link.connect(link.peer, logger)
      links.push(link)
    }
    const frame = Buffer.alloc(320, 1)
    const end = performance.now() + seconds * 1000
    while (performance.now() < end) {
      // Each call on a phase of its own, as replies start whenever they are ready.
      for (let i = 0; i < CALLS; i++) links[i]?.send(frame, undefined, 40 + (i % 20))
      mux.flush()
      await sleep(20)
    }
    await sleep(200)
    const h = mux.stats.held
    return { realtime, granted: h.realtime, sent: h.sent, late: h.late, lateShare: Math.round(h.late / Math.max(1, h.sent) * 10000) / 10000, maxLateMs: Math.round(h.maxLateUs / 100) / 10 }
  } finally {
    mux.close()
    for (const s of sinks) s.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const load = loadUdpMuxAddon()
  if (load.addon === undefined) throw new Error(`the udp-mux helper is not built: ${load.why}`)
  const hogs: ChildProcess[] = []
  for (let i = 0; i < arg('hogs', cpus().length); i++) hogs.push(spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }))
  try {
    console.log(JSON.stringify({ calls: CALLS, hogs: hogs.length, cpus: cpus().length, loadAverage: loadavg()[0], at: new Date().toISOString() }))
    for (let r = 0; r < arg('runs', 4); r++) console.log(JSON.stringify(await run(load.addon, r % 2 === 1, arg('seconds', 15))))
  } finally {
    for (const h of hogs) h.kill()
  }
  process.exit(0)
}
