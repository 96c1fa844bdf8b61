import t, { type Test } from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import type { BridgeOutcome, CallResult } from '../../lib/simulator/types.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { CALLER, DID, startRig, type ConversationRig } from '../conversation/helpers.ts'

/**
 * Stream-mode transfers ring the target as its own leg (originate ... &park()) and bridge only
 * on answer. A target that does not answer, is busy, or is refused by the dialplan must leave
 * the caller hearing the agent again, with the unicast stream intact. How soon is a speed (see
 * bench/); the tests assert orderings against the call's script, which load cannot reorder.
 */

const TARGET = 'sofia/gateway/trunk/+390299999999'
const PRESS_AT_MS = 1500
const HANGUP_AT_MS = 6000

async function operatorCall (t: Test, bridge: BridgeOutcome, extra: { hangupAtMs?: number, dtmf?: Array<{ atMs: number, digit: string }> } = {}): Promise<{ rig: ConversationRig, result: CallResult, call: ReturnType<FakeFreeSwitch['placeCall']> }> {
  const rig = await startRig(t, {
    media: { mode: 'stream' },
    transfers: { operator: { type: 'endpoint', dialString: TARGET } },
    agent: { transfers: { human: 'operator' } },
  })
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({
    port: rig.port,
    destination: DID,
    callerNumber: CALLER,
    bridge,
    caller: { dtmf: extra.dtmf ?? [{ atMs: PRESS_AT_MS, digit: '0' }], hangupAtMs: extra.hangupAtMs ?? HANGUP_AT_MS },
  })
  const result = await call.ended
  await rig.agent.server.drained()
  return { rig, result, call }
}

for (const [name, bridge, cause] of [
  ['does not answer', { outcome: 'no-answer', ringMs: 1500 }, 'NO_ANSWER'],
  ['is busy', { outcome: 'fail', cause: 'USER_BUSY', ringMs: 600 }, 'USER_BUSY'],
  ['is refused by the dialplan', { outcome: 'fail', cause: 'OUTGOING_CALL_BARRED', ringMs: 100 }, 'OUTGOING_CALL_BARRED'],
] as const) {
  t.test(`a stream-mode transfer whose target ${name}: the caller hears the agent again, the stream lives on`, async (t) => {
    const baseline = resources()
    const { rig, result, call } = await operatorCall(t, bridge)
    t.equal(result.legs.length, 1, 'the target was rung as its own leg')
    const leg = result.legs[0]!
    t.match(leg.dialString, TARGET)
    t.equal(leg.variables.ignore_early_media, 'true')
    t.match(leg.variables.phone_agent_ring, /^[0-9a-f-]{36}$/, 'tagged so it can be cancelled')
    t.equal(leg.endCause, cause)
    t.same(result.orphanLegs, [], 'no leg left ringing or parked')
    t.notOk(result.apps.some((a) => a.name === 'bridge'), 'the caller\'s leg never ran bridge')
    t.notOk(result.unicast.some((u) => u.closedBy === 'reset'), 'unicast never reset')
    const failedAt = leg.endedMs!
    const next = call.ear.firstHeard(failedAt + 100, 200)
    t.ok(next !== undefined, 'the caller heard the agent after the failure')
    t.ok(next!.playMs < HANGUP_AT_MS, `before the caller hung up (the agent spoke ${next!.playMs - failedAt} ms after the failure)`)
    t.ok(rig.logs.some((l) => l.msg === 'transfer target did not answer' && l.cause === cause))
    t.equal(result.hungUpBy, 'caller', 'the call went on until the caller hung up')
    t.not(rig.store.calls[0]!.end?.outcome, 'transferred', 'not recorded as transferred')
    await rig.settled(t)
    t.same(await leaksSince(baseline, ['Timeout', 'UDPWrap']), {}, 'no timers or UDP sockets left')
  })
}

t.test('a stream-mode transfer the human answers: bridged with uuid_bridge, recorded transferred, caller hung up with the human', async (t) => {
  const { rig, result, call } = await operatorCall(t, { outcome: 'answer', ringMs: 800, durationMs: 1500 })
  const leg = result.legs[0]!
  t.ok(leg.answeredMs !== undefined && leg.bridgedMs !== undefined, 'answered, then bridged')
  t.ok(leg.bridgedMs! >= leg.answeredMs! && leg.bridgedMs! < leg.answeredMs! + 1500, `bridged on the answer, before the human hung up (${leg.bridgedMs! - leg.answeredMs!} ms after it)`)
  t.ok(result.commands.some((c) => c.startsWith(`api uuid_bridge ${result.uuid} ${leg.uuid}`)), 'uuid_bridge caller <-> leg')
  t.equal(result.variables.hangup_after_bridge, 'true', 'the caller is hung up when the human hangs up')
  t.equal(result.variables.last_bridge_hangup_cause, 'NORMAL_CLEARING')
  t.equal(result.hungUpBy, 'caller', 'hung up by the bridge end, not by us')
  t.same(result.orphanLegs, [])
  t.ok(call.ear.firstHeard(leg.startedMs + 50, 200) !== undefined, 'the caller heard us (connecting line, ringback) while it rang')
  const end = rig.store.calls[0]!.end
  t.equal(end?.outcome, 'transferred')
  t.equal(end?.hangupCause, 'NORMAL_CLEARING')
  t.ok(rig.logs.some((l) => l.msg === 'handed-off call ended' && l.bridged === true), 'watched until the end')
  await rig.settled(t)
})

t.test('the caller hangs up while the target rings: the leg is cancelled, nothing is left', async (t) => {
  const { rig, result } = await operatorCall(t, { outcome: 'no-answer', ringMs: 20_000 }, { hangupAtMs: 3000 })
  const leg = result.legs[0]!
  t.equal(leg.endCause, 'ORIGINATOR_CANCEL', 'cancelled by us')
  t.ok(result.commands.some((c) => c.startsWith('api hupall ORIGINATOR_CANCEL phone_agent_ring ')), 'by its tag')
  t.same(result.orphanLegs, [])
  t.equal(rig.store.calls[0]!.end?.outcome, 'caller_hung_up')
  await rig.settled(t)
})

t.test('the operator key pressed again while the target rings stops the ringing; the conversation goes on', async (t) => {
  const { rig, result, call } = await operatorCall(t, { outcome: 'no-answer', ringMs: 20_000 }, {
    dtmf: [{ atMs: PRESS_AT_MS, digit: '0' }, { atMs: PRESS_AT_MS + 2000, digit: '0' }],
    hangupAtMs: 7000,
  })
  const leg = result.legs[0]!
  t.equal(leg.endCause, 'ORIGINATOR_CANCEL')
  t.ok(leg.endedMs! >= PRESS_AT_MS + 2000 && leg.endedMs! < 7000, 'stopped by the second press, before the caller hung up')
  t.ok(rig.logs.some((l) => l.msg === 'ringing transfer stopped'))
  t.ok(call.ear.firstHeard(leg.endedMs! + 100, 200) !== undefined, 'the agent spoke again')
  t.same(result.orphanLegs, [])
  t.equal(result.hungUpBy, 'caller')
})
