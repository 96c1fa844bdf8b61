import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { CALLER, DID, bargeInAfterReplyStarts, startBargeInRig } from './helpers.ts'
import { withLoopDelay } from '../helpers/loop-delay.ts'

/**
 * A whole streamed conversation on a call whose packet time is 30 ms (the caller's
 * `a=ptime:30`): the caller's audio comes in 30 ms packets and ours goes out in 30 ms packets
 * (lib/media/stream/packet-regroup.ts), which the simulator plays as a real FreeSWITCH does
 * (test/simulator/ptime.spec.ts). The listen, the reply, a barge-in and the transcript work as
 * they do at 20 ms (test/conversation/stream.spec.ts).
 */

function voice (atMs: number, ms: number, f0 = 140): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0 }) }) }
}

const LONG = 'Allora, le spiego con calma tutte le opzioni che abbiamo a disposizione per questo servizio, una per una, senza tralasciare nulla di importante. '

/** The longest run of one value in what the caller heard: the 0xFF "padding" of a short datagram is a run of -1. */
function longestRunOf (value: number, samples: Int16Array): number {
  let best = 0
  let run = 0
  for (const s of samples) {
    run = s === value ? run + 1 : 0
    if (run > best) best = run
  }
  return best
}

t.test('ptime 30: a streamed conversation with a barge-in, heard whole', async (t) => {
  const baseline = resources()
  const rig = await startBargeInRig(t, LONG)
  const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, ptimeMs: 30, caller: { audio: [voice(500, 900)] } })
  const barge = bargeInAfterReplyStarts(rig, call, voice(0, 1000, 180).wav)
  const { value: result, loopLagMs } = await withLoopDelay(async () => await call.ended)
  barge.stop()
  const bargeAt = barge.at

  const heard = result.heard.filter((h) => h.source === 'unicast')
  t.ok(heard.length > 20 && heard.every((h) => h.samples.length === 240), `the agent was heard in 30 ms packets (${heard.length})`)
  t.ok(longestRunOf(-1, call.ear.render((heard.at(-1)?.playMs ?? 0) + 30)) < 40, 'no 0xFF "padding" of a short datagram in what the caller heard')
  t.ok(bargeAt !== undefined, 'the caller barged in')
  t.ok(rig.logs.find((l) => l.msg === 'caller barged in'), 'barge-in detected')
  const stoppedAt = call.ear.stoppedAfterMs(bargeAt!, 200, false)
  t.ok(stoppedAt < bargeAt! + 1000 + loopLagMs, `agent audio stopped ${stoppedAt - bargeAt!} ms after the caller started, before they finished`)
  const captured = rig.store.calls[0]!
  t.ok(captured.turns.some((x) => x.role === 'agent' && x.interrupted === true), 'the interrupted reply is marked in the transcript')
  t.same(captured.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere le opzioni.', 'Basta così, grazie.'])
  t.equal(result.hungUpBy, 'server')
  await rig.settled(t)
  t.same(await leaksSince(baseline, ['Timeout', 'UDPWrap']), {}, 'no timers or UDP sockets left')
})
