/**
 * Pacer capacity: N concurrent unicast endpoints on the shared scheduler, each streaming audio
 * to one loopback sink, for a few seconds. Prints CPU per second of audio, intervals between wake-ups,
 * frames per endpoint and heap per endpoint.
 * Run: node --expose-gc --import tsx bench/pacer.ts [calls] [seconds]
 */
import dgram from 'node:dgram'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { MediaEndpoint } from '../lib/media/stream/endpoint.ts'
import { FrameScheduler, monotonicClock } from '../lib/media/stream/scheduler.ts'

const calls = Number(process.argv[2] ?? 500)
const seconds = Number(process.argv[3] ?? 5)
const logger = pino({ level: 'warn' })

const sink = dgram.createSocket('udp4')
// The sink only has to exist: it drops what overflows its buffer, which is not the pacer's concern.
sink.on('message', () => {})
sink.bind(0, '127.0.0.1')
await once(sink, 'listening')
const peer = { address: '127.0.0.1', port: sink.address().port }

// Record wake-up lateness through a subscriber on the same scheduler the endpoints use.
const scheduler = new FrameScheduler()
const intervals: number[] = []
let last: number | undefined
let measuring = false
const removeProbe = scheduler.add({
  onTick: (_frames, now) => {
    if (measuring && last !== undefined) intervals.push(now - last)
    last = now
  },
})

global.gc?.()
const heapBefore = process.memoryUsage().heapUsed
const endpoints = await Promise.all(Array.from({ length: calls }, () => MediaEndpoint.open({ rate: 8000, logger, scheduler, peer })))
// FreeSWITCH's first datagram (pre-RTP fill) tells an endpoint its audio will be played: nothing is sent before.
await Promise.all(endpoints.map(async (ep) => {
  sink.send(Buffer.alloc(320, 0xff), ep.localAddress.port, '127.0.0.1')
  while (ep.stats.preRtp === 0) await sleep(5)
}))
for (const ep of endpoints) ep.enqueue(new Int16Array(8000 * seconds).fill(100))
global.gc?.()
const heapPer = (process.memoryUsage().heapUsed - heapBefore) / calls

measuring = true
const cpu0 = process.cpuUsage()
const t0 = monotonicClock.now()
await sleep(seconds * 1000)
const elapsed = (monotonicClock.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
const sent = endpoints.map((ep) => ep.stats.sent)
await Promise.all(endpoints.map((ep) => ep.close()))
removeProbe()
sink.close()

intervals.sort((a, b) => a - b)
const q = (p: number): string => (intervals[Math.floor(p * (intervals.length - 1))] ?? NaN).toFixed(2)
console.log(JSON.stringify({
  calls,
  seconds: Number(elapsed.toFixed(2)),
  cpuPerSecond: Number(((cpu.user + cpu.system) / 1e6 / elapsed).toFixed(3)),
  wakeIntervalMs: { min: q(0), p1: q(0.01), p50: q(0.5), p99: q(0.99), max: q(1) },
  framesPerEndpoint: { min: Math.min(...sent), max: Math.max(...sent), expected: Math.round(elapsed * 50) },
  schedulerStats: scheduler.stats,
  heapPerEndpointKB: Number((heapPer / 1024).toFixed(1)),
}, null, 2))
