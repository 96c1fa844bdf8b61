import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { captureLogs } from '../helpers/logs.ts'
import { RawServer } from '../simulator/helpers.ts'

/**
 * Our endpoint against the simulator's unicast (after switch_ivr.c: unicast_thread_run writes
 * each datagram toward the caller as it arrives, nothing when none is waiting). While idle we
 * send silence just in time, so FreeSWITCH holds no frame of ours ahead of the next reply: each
 * idle frame starts playing when it arrives (the previous one has just ended), not a frame later.
 * Asserted on the simulator's own timeline (arrival vs play time of each frame), not on speed:
 * a loaded machine delays both together.
 */

const dir = mkdtempSync(join(tmpdir(), 'idle-lead-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

t.test('idle: silence just in time (no frame queued ahead); a reply plays from the frame after the one in play', async (t) => {
  const { logger } = captureLogs()
  const srv = new RawServer()
  const port = await srv.listen()
  const call = new FakeFreeSwitch({ baseDir: dir }).placeCall({ port })
  await srv.connected
  await srv.command('connect')
  const ep = await MediaEndpoint.open({ rate: 8000, logger, scheduler: new FrameScheduler(), leadFrames: 2 })
  t.teardown(async () => { await ep.close(); call.hangup(); await srv.close(); await call.ended })
  await srv.command(`sendmsg\ncall-command: unicast\nlocal-ip: 127.0.0.1\nlocal-port: 0\nremote-ip: 127.0.0.1\nremote-port: ${ep.localAddress.port}\ntransport: udp`)
  const deadline = Date.now() + 5000
  while (call.ear.heard.filter((f) => f.source === 'unicast').length < 30 && Date.now() < deadline) await delay(20)
  const idle = call.ear.heard.filter((f) => f.source === 'unicast')
  t.ok(idle.length >= 30, `idle frames heard (${idle.length})`)
  // With leadFrames 2 primed while idle (the old pacer), the third frame of the first send, and
  // every frame after it, would wait 40 ms. Just in time, a frame waits at most for the one in
  // play (a hiccup of this process can leave the simulator, which never catches up, one behind).
  // Counted from when FreeSWITCH wrote it: its RTP write timer adds up to a tick of its own
  // (test/simulator/write-timer.spec.ts), whatever we send.
  const lags = idle.map((f) => f.playMs - f.writtenMs)
  const worst = Math.max(...lags)
  t.ok(worst < 40, `no idle frame queued two deep: the longest wait was ${worst} ms`)
  t.comment(`median wait of an idle frame: ${lags.sort((a, b) => a - b)[Math.floor(lags.length / 2)]} ms`)
  t.ok(idle.every((f) => f.samples.every((v) => v === 0)), 'silence')
  const before = call.ear.heard.length
  ep.enqueue(new Int16Array(800).fill(1000)) // 100 ms: 5 frames
  const end = Date.now() + 5000
  while (!call.ear.heard.some((f) => f.samples[0] !== 0) && Date.now() < end) await delay(5)
  const reply = call.ear.heard.slice(before).filter((f) => f.samples[0] !== 0)
  t.ok(reply.length > 0, 'the reply arrived')
  const first = reply[0]
  // At most the silence frame in play (or the one just sent for this tick) is ahead of it: with
  // idle frames queued ahead (two with this lead) it would wait 40-60 ms.
  const wait = first === undefined ? Number.NaN : first.playMs - first.writtenMs
  t.ok(wait < 40, `the reply's first frame waited ${wait} ms at FreeSWITCH: no idle frame was queued ahead of it`)
})
