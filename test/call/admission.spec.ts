import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { toneWav } from '../helpers/speaker.ts'

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))

function config (steps: unknown[], guard: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    language: 'it-IT',
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps } } },
    guard,
  }
}

t.test('withheld and foreign callers are refused before answering, with the reason logged', async (t) => {
  const { port, logs } = await startTestAgent(t, config([{ verb: 'answer' }, { verb: 'hangup' }]))
  const fs = new FakeFreeSwitch()
  for (const [callerNumber, reason] of [['anonymous', 'anonymous'], ['', 'anonymous'], ['+12125551234', 'prefix_not_allowed'], ['+39333\n1', 'malformed_caller']] as const) {
    const result = await fs.placeCall({ port, destination: DID, callerNumber }).ended
    t.notOk(result.answered, `${JSON.stringify(callerNumber)} not answered`)
    t.same(result.apps, [], 'nothing executed')
    t.equal(result.hangupCause, 'CALL_REJECTED')
    t.match(logs.filter((l) => l.msg === 'call rejected').at(-1), { reason })
  }
  const ok = await fs.placeCall({ port, destination: DID, callerNumber: '+393331234567' }).ended
  t.ok(ok.answered, 'an Italian caller gets through')
})

t.test('beyond capacity the caller hears the busy message as early media, unanswered, then USER_BUSY', async (t) => {
  const { port, soundsDir, speaker } = await startTestAgent(t, config(
    [{ verb: 'answer' }, { verb: 'play', file: 'long.wav' }, { verb: 'hangup' }],
    { capacity: { maxConcurrent: 1, whenFull: 'busy-message' } },
  ))
  await writeFile(join(soundsDir, 'long.wav'), toneWav(1500))
  const rendered = (speaker as unknown as { requests: Array<{ text: string }> }).requests.map((r) => r.text)
  t.ok(rendered.some((x) => /linee sono occupate/.test(x)), 'the busy message was pre-rendered at start-up')
  const fs = new FakeFreeSwitch()
  const first = fs.placeCall({ port, destination: DID, callerNumber: '+393331234567' })
  await new Promise((resolve) => setTimeout(resolve, 300))
  const second = await fs.placeCall({ port, destination: DID, callerNumber: '+393339999999' }).ended
  t.same(second.apps.map((a) => a.name), ['pre_answer', 'playback'], 'early media only')
  t.notOk(second.answered, 'never answered, so never billed')
  t.equal(second.hangupCause, 'USER_BUSY')
  const firstResult = await first.ended
  t.ok(firstResult.answered)
  t.equal(firstResult.hungUpBy, 'server', 'the call in progress completed normally')
  const third = await fs.placeCall({ port, destination: DID, callerNumber: '+393338888888' }).ended
  t.ok(third.answered, 'the slot came back when the first call ended')
})

t.test('a flood of 1,000 spoofed and anonymous calls is refused unanswered while a real call completes', async (t) => {
  const { port, soundsDir, logs } = await startTestAgent(t, config(
    [{ verb: 'answer' }, { verb: 'play', file: 'long.wav' }, { verb: 'hangup' }],
    { rates: { globalPerSecond: 5, perCallerPerMinute: 3 }, capacity: { maxConcurrent: 4 } },
  ))
  const fs = new FakeFreeSwitch()
  await writeFile(join(soundsDir, 'long.wav'), toneWav(3000))
  const legit = fs.placeCall({ port, destination: DID, callerNumber: '+393331234567', caller: { hangupAtMs: 20_000 } })
  const spoofed = (i: number): string => {
    switch (i % 5) {
      case 0: return 'anonymous'
      case 1: return `+88216${String(i).padStart(6, '0')}` // satellite
      case 2: return `+1212555${String(i).padStart(4, '0')}` // not an allowed country
      case 3: return '' // withheld
      default: return `+3906${String(i % 7).padStart(8, '0')}` // a handful of Italian numbers, dialling again and again
    }
  }
  const results: Array<{ answered: boolean, apps: number }> = []
  const total = 1000
  let next = 0
  async function worker (): Promise<void> {
    while (next < total) {
      const i = next++
      const r = await fs.placeCall({ port, destination: DID, callerNumber: spoofed(i) }).ended
      results.push({ answered: r.answered, apps: r.apps.length })
    }
  }
  await Promise.all(Array.from({ length: 25 }, async () => await worker()))
  const answered = results.filter((r) => r.answered).length
  // Only the Italian numbers can get in, each at most perCallerPerMinute times, and only while
  // the global per-second budget lasts: a handful out of a thousand.
  t.ok(answered <= 7 * 3, `${answered} of ${total} flood calls answered`)
  t.equal(results.length, total)
  const legitResult = await legit.ended
  t.ok(legitResult.answered, 'the legitimate call was answered')
  t.equal(legitResult.hungUpBy, 'server', 'and completed normally')
  t.same(legitResult.played.map((p) => p.status), ['done'], 'its 3 s file played to the end')
  t.notOk(logs.some((l) => l.msg === 'call script failed'), 'no script failed')
})

t.test('a transfer target that would ring a premium or satellite number fails at start-up', async (t) => {
  t.throws(() => buildConfig({ transfers: { x: { type: 'endpoint', dialString: 'sofia/gateway/trunk/+39899123456' } } }, '/x'),
    { code: 'CONFIG_INVALID', field: 'transfers.x.dialString', message: /premium|special/ })
  t.throws(() => buildConfig({ transfers: { x: { type: 'endpoint', dialString: 'sofia/gateway/trunk/+8821234567' } } }, '/x'),
    { code: 'CONFIG_INVALID', field: 'transfers.x.dialString' })
  t.doesNotThrow(() => buildConfig({ transfers: { x: { type: 'endpoint', dialString: 'user/1000@pbx.local' } } }, '/x'))
})
