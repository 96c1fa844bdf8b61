/**
 * Idle calls' pacing cost with and without write-tick alignment (call-pacer.ts): N endpoints on
 * the shared scheduler, each receiving FreeSWITCH's frames on a phase of its own (20 phases 1 ms
 * apart, as timerfd write timers start wherever the call's RTP did) and sending silence back. With
 * alignment each idle call rides a lane on its phase; without, every call rides the one grid.
 * Runs alternate (off, on, off, on) in one process, so the same inbound load and the machine's
 * load hit both; prints CPU per second of each run and the timer wake-ups per frame.
 * Run: node --expose-gc --import tsx bench/pacer-idle.ts [calls] [seconds]
 */
import dgram from 'node:dgram'
import { once } from 'node:events'
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { MediaEndpoint } from '../lib/media/stream/endpoint.ts'
import { FrameScheduler, monotonicClock } from '../lib/media/stream/scheduler.ts'

const calls = Number(process.argv[2] ?? 500)
const seconds = Number(process.argv[3] ?? 5)
const logger = pino({ level: 'warn' })
const PHASES = 20

async function run (aligned: boolean): Promise<{ aligned: boolean, cpuPerSecond: number, wakeupsPerFrame: number, idleSkipped: number, sentPerFrame: number }> {
  const fs = dgram.createSocket('udp4')
  fs.on('message', () => {})
  fs.bind(0, '127.0.0.1')
  await once(fs, 'listening')
  const peer = { address: '127.0.0.1', port: fs.address().port }
  let fires = 0
  const scheduler = new FrameScheduler({
    timers: { set: (fn, ms) => setTimeout(() => { fires++; fn() }, ms), clear: (h) => { clearTimeout(h as NodeJS.Timeout) } },
  })
  const endpoints = await Promise.all(Array.from({ length: calls }, () => MediaEndpoint.open({ rate: 8000, logger, scheduler, peer, alignToWriteTicks: aligned })))
  // FreeSWITCH's frames: one 20 ms stream per phase, each to its share of the endpoints.
  const frame = Buffer.alloc(320)
  const streams: NodeJS.Timeout[] = []
  for (let p = 0; p < PHASES; p++) {
    await sleep(1)
    const mine = endpoints.filter((_, i) => i % PHASES === p)
    streams.push(setInterval(() => { for (const ep of mine) fs.send(frame, ep.localAddress.port, '127.0.0.1') }, 20))
  }
  await sleep(1000) // the ticks placed, the settling gap over
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
    aligned,
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

const load = loadavg()[0]
const runs = []
for (const aligned of [false, true, false, true]) runs.push(await run(aligned))
console.log(JSON.stringify({ calls, seconds, loadAverageAtStart: load, loadAverageAtEnd: loadavg()[0], runs }, null, 2))
