import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { blockedPair } from '../helpers/blocked-ports.ts'
import { fileURLToPath } from 'node:url'
import { DID, captureStore, startRig } from '../conversation/helpers.ts'

// A `unicast` FreeSWITCH answers +OK but never starts (it could not bind `local-port`:
// switch_ivr_activate_unicast logs "Failure creating unicast connection"; mod_event_socket.c
// answers the sendmsg all the same) is noticed: asked again from another port, and when that
// fails too, the call ends with MEDIA_STREAM_FAILED and an apology FreeSWITCH plays itself
// (lib/call/stream/unicast-start.ts). Before, the caller heard dead air until they hung up.


for (const sockets of ['shared', 'per-call'] as const) {
  t.test(`${sockets} sockets: a unicast FreeSWITCH could not bind is asked again from another port, and the call goes on`, async (t) => {
    const blocked = await blockedPair()
    const store = captureStore()
    const { port, agent, logs } = await startTestAgent(t, {
      media: { mode: 'stream', stream: { sockets, freeswitchPorts: { min: blocked.min, max: blocked.max } } },
      routes: { [DID]: { script: 'take-message' } },
    }, { records: store })
    // Whichever port the first ask names is taken; both are free again before the second ask.
    setTimeout(() => { for (const s of blocked.sockets) s.close() }, 1000)
    const fs = new FakeFreeSwitch()
    const result = await fs.placeCall({ port, destination: DID, caller: { hangupAtMs: 5000 } }).ended
    t.equal(result.unicast.length, 2, 'two unicast commands')
    t.match(result.unicast[0]?.failed, /^Failure creating unicast connection/, 'the first could not bind')
    t.notOk(result.unicast[1]?.failed, 'the second bound')
    t.not(result.unicast[1]?.params.localPort, result.unicast[0]?.params.localPort, 'from the other port')
    t.same(result.apps.map((a) => a.name), ['answer'], 'no playback: the stream carried the call')
    const heard = result.heard.filter((h) => h.source === 'unicast')
    t.ok(heard.length > 10, `the caller heard the greeting over the stream (${heard.length} frames)`)
    t.ok(logs.some((l) => l.level === 40 && l.msg === 'FreeSWITCH sent no audio after unicast: asking again from another port'), 'the first failure is a warning')
    t.notOk(logs.some((l) => l.level >= 50), 'nothing logged as an error')
    await agent.server.drained()
    t.equal(store.calls[0]?.end?.outcome, 'caller_hung_up', 'the caller ended it, not a failure')
  })

  t.test(`${sockets} sockets: when FreeSWITCH never streams, the call ends with MEDIA_STREAM_FAILED and a spoken apology`, async (t) => {
    const blocked = await blockedPair()
    t.teardown(() => { for (const s of blocked.sockets) s.close() })
    const store = captureStore()
    const { port, agent, logs } = await startTestAgent(t, {
      media: { mode: 'stream', stream: { sockets, freeswitchPorts: { min: blocked.min, max: blocked.max } } },
      routes: { [DID]: { script: 'take-message' } },
    }, { records: store })
    const baseline = resources()
    const fs = new FakeFreeSwitch()
    const started = Date.now()
    const result = await fs.placeCall({ port, destination: DID, caller: { hangupAtMs: 20_000 } }).ended
    t.equal(result.hungUpBy, 'server', 'we ended the call')
    t.ok(Date.now() - started < 15_000, 'long before the caller gave up')
    t.equal(result.unicast.length, 2, 'asked twice')
    t.ok(result.unicast.every((u) => u.failed !== undefined), 'neither could bind')
    t.same(result.apps.map((a) => a.name), ['answer', 'playback'], 'the apology through playback: no stream to break')
    await agent.server.drained()
    const call = store.calls[0]!
    t.equal(call.end?.outcome, 'failed')
    t.equal(call.end?.errorCode, 'MEDIA_STREAM_FAILED')
    t.match(call.errors[0]?.message, /Failure creating unicast connection.*media\.stream\.advertisedAddress/, 'the record says what to check')
    const failure = logs.find((l) => l.msg === 'the media stream never started: ending the call')
    t.equal(failure?.level, 50, 'logged as an error, once it is one')
    t.same(await leaksSince(baseline), {}, 'sockets and timers released')
  })
}

t.test('the caller hangs up while we wait for FreeSWITCH: no second ask, no error, nothing left behind', async (t) => {
  const blocked = await blockedPair()
  t.teardown(() => { for (const s of blocked.sockets) s.close() })
  const store = captureStore()
  const { port, agent, logs } = await startTestAgent(t, {
    media: { mode: 'stream', stream: { freeswitchPorts: { min: blocked.min, max: blocked.max } } },
    routes: { [DID]: { script: 'take-message' } },
  }, { records: store })
  const baseline = resources()
  const result = await new FakeFreeSwitch().placeCall({ port, destination: DID, caller: { hangupAtMs: 1000 } }).ended
  t.equal(result.hungUpBy, 'caller')
  t.equal(result.unicast.length, 1, 'asked once')
  await agent.server.drained()
  t.equal(store.calls[0]?.end?.outcome, 'caller_hung_up')
  t.notOk(logs.some((l) => l.level >= 40), 'no warning, no error')
  t.same(await leaksSince(baseline), {}, 'the watch\'s timer and the sockets released')
})

t.test('a listen in progress when the stream is given up ends at once, not at its no-input time', async (t) => {
  const blocked = await blockedPair()
  t.teardown(() => { for (const s of blocked.sockets) s.close() })
  const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))
  const rig = await startRig(t, {
    media: { mode: 'stream', stream: { freeswitchPorts: { min: blocked.min, max: blocked.max } } },
    scripts: { verbs },
    route: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'ask', noInputMs: 30_000 }] } },
  })
  const started = Date.now()
  const result = await new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, caller: { hangupAtMs: 40_000 } }).ended
  t.ok(Date.now() - started < 10_000, `ended with the stream (${Date.now() - started} ms), not after 30 s of no-input`)
  t.equal(result.hungUpBy, 'server')
  await rig.agent.server.drained()
  t.equal(rig.store.calls[0]?.end?.errorCode, 'MEDIA_STREAM_FAILED')
})
