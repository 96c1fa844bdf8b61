import t from 'tap'
import { createSocket } from 'node:dgram'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { loadUdpMuxAddon } from '../../lib/media/native/udp-mux-addon.ts'
import { openMediaSockets, sharedUdpMux } from '../../lib/media/stream/index.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { captureLogs } from '../helpers/logs.ts'
import { speechLike } from '../media-stream/signals.ts'

// media.stream.sockets: calls through the simulator's unicast (a socket bound at each call's
// local-port, as switch_ivr_activate_unicast binds it; unicast_thread_run reads whatever arrives).

const DID = '+390212345678'
const speech = (seconds: number): Buffer => encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, seconds, -20) })
const built = loadUdpMuxAddon()

async function twoCalls (port: number): Promise<Array<{ remotePort: number | undefined, heardFrames: number }>> {
  const fs = new FakeFreeSwitch()
  const results = await Promise.all([0, 1].map(async (i) => await fs.placeCall({
    port, destination: DID, callerNumber: `+39333123456${i}`,
    caller: { audio: [{ atMs: 1200, wav: speech(1.2) }] },
  }).ended))
  return results.map((r) => ({ remotePort: r.unicast[0]?.params.remotePort, heardFrames: r.heard.filter((h) => h.source === 'unicast').length }))
}

t.test('shared (the default): every call streams to the one port, each hears its own agent', { skip: built.addon === undefined && process.env.CI !== 'true' ? built.why : false }, async (t) => {
  const { port, logs, agent } = await startTestAgent(t, { media: { mode: 'stream' }, routes: { [DID]: { script: 'take-message' } } })
  const calls = await twoCalls(port)
  const mux = sharedUdpMux('127.0.0.1', undefined)
  t.ok(mux, 'the shared socket is open')
  for (const call of calls) {
    t.equal(call.remotePort, mux?.port, 'unicast remote-port is the shared socket')
    t.ok(call.heardFrames > 10, `the caller heard the agent (${call.heardFrames} frames)`)
  }
  t.ok(logs.some((l) => l.msg === 'media: every call\'s audio through one shared UDP socket'), 'said at start-up')
  // Each message is the caller's own audio, which reached us only from that call's local-port.
  const recorded = logs.filter((l) => l.msg === 'message recorded')
  t.equal(recorded.length, 2, 'both callers\' messages recorded from their streams')
  t.ok(recorded.every((l) => typeof l.durationMs === 'number' && l.durationMs > 1000), `each a message of its caller's length (${recorded.map((l) => String(l.durationMs)).join(', ')} ms)`)
  // The replies' frames were handed over ahead and sent by the helper's thread when due.
  const held = mux?.stats.held
  t.ok((held?.sent ?? 0) > 10, `reply frames held until due (${held?.sent ?? 0})`)
  // (Datagrams from a call's FreeSWITCH side after its end count as strangers': not checked here.)
  await agent.server.drained()
  t.equal(mux?.stats.held.pending, 0, 'nothing left held once the calls ended')
  t.equal(mux?.links, 0, 'every call\'s registration is gone with its call')
})

t.test('per-call: a socket of each call\'s own', async (t) => {
  const { port } = await startTestAgent(t, { media: { mode: 'stream', stream: { sockets: 'per-call' } }, routes: { [DID]: { script: 'take-message' } } })
  const calls = await twoCalls(port)
  t.not(calls[0]?.remotePort, calls[1]?.remotePort, 'two calls, two ports')
  for (const call of calls) t.ok(call.heardFrames > 10, `the caller heard the agent (${call.heardFrames} frames)`)
})

t.test('start-up: a socket per call, said once, where the shared one cannot be used; a port in use stops it', async (t) => {
  const { logger, records } = captureLogs()
  t.equal(openMediaSockets({ sockets: 'per-call', bindAddress: '127.0.0.1', ports: undefined, realtimeSend: true }, logger), 'per-call')
  t.equal(records.length, 0, 'asked for: nothing to say')
  t.equal(openMediaSockets({ sockets: 'shared', bindAddress: '::1', ports: undefined, realtimeSend: true }, logger), 'per-call')
  t.match(records.at(-1), { level: 40, field: 'media.stream.sockets', why: /IPv4/ })
  if (built.addon === undefined) return
  // A port another socket holds (on an address no shared socket uses yet in this process).
  const holder = createSocket('udp4')
  await new Promise<void>((resolve) => { holder.bind(0, '127.0.0.3', resolve) })
  t.teardown(() => { holder.close() })
  const port = holder.address().port
  let error: unknown
  try { openMediaSockets({ sockets: 'shared', bindAddress: '127.0.0.3', ports: { min: port, max: port }, realtimeSend: true }, logger) } catch (err) { error = err }
  t.ok(isPhoneAgentError(error) && error.code === 'CONFIG_INVALID' && /media\.stream\.sockets/.test(error.message), String(error))
})
