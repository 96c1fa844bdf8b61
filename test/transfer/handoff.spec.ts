import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { CALLER, DID, startRig } from '../conversation/helpers.ts'

/**
 * What a transfer leaves behind once it is handed off or refused: the outcome recorded for
 * files-mode bridges and dialplan refusals, and a shutdown that must not drop a bridged caller.
 * (Split from stream-transfer.test.ts so the two run side by side.)
 */

const TARGET = 'sofia/gateway/trunk/+390299999999'
const PRESS_AT_MS = 1500

t.test('files mode: a bridge the human answers is recorded transferred (originate_disposition SUCCESS)', async (t) => {
  const rig = await startRig(t, {
    transfers: { operator: { type: 'endpoint', dialString: TARGET } },
    agent: { transfers: { human: 'operator' } },
  })
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({
    port: rig.port, destination: DID, callerNumber: CALLER,
    bridge: { outcome: 'answer', durationMs: 800 },
    caller: { dtmf: [{ atMs: PRESS_AT_MS, digit: '0' }] },
  }).ended
  await rig.agent.server.drained()
  t.equal(result.variables.originate_disposition, 'SUCCESS')
  const multiset = result.apps.findIndex((a) => a.name === 'multiset')
  const bridge = result.apps.findIndex((a) => a.name === 'bridge')
  t.ok(multiset >= 0 && bridge === multiset + 1, 'the bridge variables go out with the bridge, not a round trip before it')
  t.match(result.apps[multiset]?.arg, /continue_on_fail=true/)
  t.equal(rig.store.calls[0]!.end?.outcome, 'transferred')
})

t.test('an extension transfer the dialplan refuses (OUTGOING_CALL_BARRED) is not recorded transferred', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({
    port: rig.port, destination: DID, callerNumber: CALLER,
    transferHangupCause: 'OUTGOING_CALL_BARRED',
    caller: { dtmf: [{ atMs: PRESS_AT_MS, digit: '0' }] },
  }).ended
  await rig.agent.server.drained()
  t.equal(result.transfer?.to, '1000')
  const end = rig.store.calls[0]!.end
  t.equal(end?.outcome, 'failed')
  t.equal(end?.errorCode, 'DIAL_BLOCKED')
  t.equal(end?.hangupCause, 'OUTGOING_CALL_BARRED')
  t.ok(rig.logs.some((l) => l.msg === 'transfer refused by the dialplan'))
})

/**
 * The pack sets socket_resume=true (failover to a second agent). With it, closing our socket
 * while the caller is bridged makes listener_run() set CS_RESET, which breaks the bridge (seen on
 * a real FreeSWITCH): a shutdown must clear the variable before letting go.
 */
for (const kind of ['endpoint (uuid_bridge)', 'extension'] as const) {
  t.test(`shutdown during a handed-off ${kind} call leaves the call up (socket_resume cleared first)`, async (t) => {
    const rig = await startRig(t, {
      media: { mode: 'stream' },
      transfers: { operator: kind === 'extension' ? { type: 'extension', extension: '1000' } : { type: 'endpoint', dialString: TARGET } },
      agent: { transfers: { human: 'operator' } },
    })
    const fs = new FakeFreeSwitch()
    const call = fs.placeCall({
      port: rig.port, destination: DID, callerNumber: CALLER,
      variables: { socket_resume: 'true' },
      bridge: { outcome: 'answer', ringMs: 300, durationMs: 3000 },
      transferLegMs: 3000,
      caller: { dtmf: [{ atMs: PRESS_AT_MS, digit: '0' }] },
    })
    await new Promise((resolve) => setTimeout(resolve, PRESS_AT_MS + 1200))
    await rig.agent.server.endAll('shutdown')
    const result = await call.ended
    t.ok(result.commands.some((c) => c.startsWith(`api uuid_setvar ${result.uuid} socket_resume false`)), 'socket_resume cleared')
    t.equal(result.variables.socket_resume, 'false')
    t.equal(result.hungUpBy, 'caller', 'the call ended when the far end hung up, not when our socket closed')
    t.ok(result.endedAtMs > PRESS_AT_MS + 2500, `the conversation went on (${result.endedAtMs} ms)`)
  })
}
