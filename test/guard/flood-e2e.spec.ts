import t, { type Test } from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import type { CallResult } from '../../lib/simulator/types.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { toneWav } from '../helpers/speaker.ts'

// The flood of issue 15 (finding 4) through the whole agent, on the simulator: spoofed calls
// with random home-country numbers from one address, refused unanswered and cheaply, while a
// caller from another address completes a call; and a caller over a rate limit handed to the
// dialplan's fallback instead of being dropped. The thousand-call version drives the guard
// directly (flood-fairness.test.ts); this one checks that the pieces meet on the wire.

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))
const FLOODER = '203.0.113.9'

async function agent (t: Test) {
  const started = await startTestAgent(t, {
    language: 'it-IT',
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'play', file: 'short.wav' }, { verb: 'hangup' }] } } },
    // Room for every call the rates let through, however long a loaded machine makes them last
    // (with 8, the first wave's calls were seen still up when the second wave came, and one was
    // refused for capacity): capacity is not the point here.
    guard: { rates: { whenLimited: 'fallback' }, capacity: { maxConcurrent: 64 } },
  })
  await writeFile(join(started.soundsDir, 'short.wav'), toneWav(300))
  return started
}

let n = 0
/** A fresh random-looking Italian mobile number for each spoofed call. */
const spoofed = (): string => `+39347${String(1_000_000 + ((++n * 7_919) % 9_000_000)).padStart(7, '0')}`

t.test('a caller from another address completes a call while one address floods with spoofed numbers', async (t) => {
  const { port, logs } = await agent(t)
  const fs = new FakeFreeSwitch()
  const flood = async (count: number): Promise<CallResult[]> => {
    const calls = Array.from({ length: count }, () => fs.placeCall({ port, destination: DID, callerNumber: spoofed(), sourceIp: FLOODER }).ended)
    return await Promise.all(calls)
  }
  const first = await flood(30)
  // The next second: the flood goes on, and the real caller dials in the middle of it. Counted
  // from the end of the first wave, whose admissions all came before it: the global budget's
  // one-second window opened by them is over by then however slow a loaded machine made them.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const real = fs.placeCall({ port, destination: DID, callerNumber: '+393331234567', sourceIp: '192.0.2.77' })
  const [second, realResult] = await Promise.all([flood(30), real.ended])

  t.ok(realResult.answered, 'the real caller was answered')
  t.equal(realResult.hungUpBy, 'server', 'and the call ran to its end')
  t.same(realResult.played.map((p) => p.status), ['done'], 'its file played through')

  const all = [...first, ...second]
  const answered = all.filter((r) => r.answered)
  const handed = all.filter((r) => r.transfer !== undefined)
  // The address's allowance (10 a minute) met the global budget (5 a second): those calls were
  // answered, or refused by the global budget and handed to the fallback like anyone's.
  t.equal(answered.length + handed.length, 10, `the address's allowance: ${answered.length} answered, ${handed.length} handed to the fallback`)
  const refused = all.filter((r) => !r.answered && r.transfer === undefined)
  t.equal(refused.length, 50)
  t.ok(refused.every((r) => r.apps.length === 0 && r.hangupCause === 'CALL_REJECTED'), 'the rest was refused unanswered, nothing executed')
  const bySource = logs.filter((l) => l.msg === 'call rejected' && l.reason === 'rate_source_ip')
  t.equal(bySource.length, 60 - 10, 'all but the address\'s allowance of 10 a minute refused by source')
  t.match(bySource[0], { level: 40, sourceIp: FLOODER, rule: 'guard.rates.perSourceIpPerMinute' }, 'the address came from the connect reply')
})

t.test('a caller over a rate limit is handed to the fallback extension, and our leaving does not reset it', async (t) => {
  const { port, logs } = await agent(t)
  const fs = new FakeFreeSwitch()
  const place = async (): Promise<CallResult> => await fs.placeCall({
    port, destination: DID, callerNumber: '+393331112222', sourceIp: '192.0.2.88',
    // As the pack's dialplan sets it, for failover to a second agent.
    variables: { socket_resume: 'true' },
    transferLegMs: 400,
  }).ended
  for (let i = 0; i < 3; i++) t.ok((await place()).answered, `call ${i + 1} within the per-caller limit`)
  const fourth = await place()
  t.notOk(fourth.answered, 'not answered by the agent')
  t.same(fourth.transfer === undefined ? undefined : { to: fourth.transfer.to, dialplan: fourth.transfer.dialplan, context: fourth.transfer.context },
    { to: 'phone_agent_fallback', dialplan: 'XML', context: 'phone_agent_fallback' }, 'transferred to the fallback')
  t.same(fourth.apps.map((a) => a.name), ['set', 'transfer'])
  t.equal(fourth.variables.socket_resume, 'false', 'socket_resume cleared before we left')
  t.equal(fourth.hungUpBy, 'caller', 'the fallback leg ran to its end; our socket closing did not reset the channel')
  t.match(logs.find((l) => l.msg === 'handed-off call ended'), { hangupCause: 'NORMAL_CLEARING' }, 'watched to its real end, so the record carries it')
  t.match(logs.find((l) => l.msg === 'call rejected' && l.reason === 'rate_caller_minute'),
    { level: 40, rule: 'guard.rates.perCallerPerMinute', limit: 3, fallback: 'phone_agent_fallback' })
})
