import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch, level } from '../../lib/simulator/index.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { toneWav } from '../helpers/speaker.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'

const DID = '+390212345678'
const script = (name: string): string => fileURLToPath(new URL(`../fixtures/scripts/${name}.ts`, import.meta.url))
// An unhandled rejection anywhere in this file fails the test that caused it: tap's own domain
// catches it (async-hook-domain), late ones included, so no process-wide handler is installed.

function agentConfig (steps: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    scripts: { verbs: { module: script('verbs') }, unsafe: { module: script('unsafe') } },
    routes: { [DID]: { script: 'verbs', options: { steps } } },
    transfers: {
      reception: { type: 'extension', extension: '1000', context: 'default' },
      mobile: { type: 'endpoint', dialString: 'sofia/gateway/trunk/+393331234567' },
    },
    ...extra,
  }
}

t.test('connect reply without Unique-ID: refused, nothing executed', async (t) => {
  const { port, logs } = await startTestAgent(t, agentConfig([{ verb: 'answer' }]))
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port, destination: DID, omitHeaders: ['Unique-ID', 'Channel-Call-UUID'] }).ended
  t.same(result.apps, [], 'no application ran')
  t.notOk(result.answered)
  t.ok(logs.some((l) => l.msg === 'connect reply unusable, refusing call'))
})

t.test('connect reply without any destination: rejected as unknown DID before answering', async (t) => {
  const { port, logs } = await startTestAgent(t, agentConfig([{ verb: 'answer' }]))
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port, omitHeaders: ['Caller-Destination-Number', 'variable_sip_req_user', 'variable_sip_to_user', 'variable_destination_number'] }).ended
  t.notOk(result.answered)
  t.equal(result.hangupCause, 'UNALLOCATED_NUMBER')
  t.match(logs.find((l) => l.msg === 'no route for dialled number, rejecting'), { reason: 'no_destination' })
})

t.test('unknown DID: hung up with the configured cause, reason logged', async (t) => {
  const { port, logs } = await startTestAgent(t, agentConfig([{ verb: 'answer' }], { unknownDid: { hangupCause: 'NO_ROUTE_DESTINATION' } }))
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port, destination: '+390299999999' }).ended
  t.notOk(result.answered, 'never answered')
  t.equal(result.hangupCause, 'NO_ROUTE_DESTINATION')
  t.equal(result.hungUpBy, 'server')
  t.match(logs.find((l) => l.msg === 'no route for dialled number, rejecting'), { reason: 'no_route', did: '+390299999999' })
})

// The caller hangs up while each verb runs. The script must end with CALL_HANGUP, the call must
// be fully closed, and nothing may be left running.
const midVerb: Array<[string, unknown[], number, (logs: Array<Record<string, unknown>>) => void]> = [
  ['play', [{ verb: 'answer' }, { verb: 'play', file: 'long.wav' }, { verb: 'hangup' }], 600, () => {}],
  ['say (during playback)', [{ verb: 'answer' }, { verb: 'say', text: 'x'.repeat(1500) }], 600, () => {}],
  ['digits', [{ verb: 'answer' }, { verb: 'digits', max: 4, timeoutMs: 5000 }], 500, () => {}],
  ['record (message kept)', [{ verb: 'answer' }, { verb: 'record', maxSeconds: 10 }, { verb: 'say', text: 'thanks' }], 1200, (logs) => {
    const r = logs.find((l) => l.msg === 'record result')
    if (r === undefined || typeof r.recorded !== 'string' || r.hungUp !== true) throw new Error('recording after hangup was not kept')
  }],
  ['transfer (bridge, still ringing)', [{ verb: 'transfer', target: 'mobile' }], 1200, () => {}],
]
for (const [verb, steps, hangupAtMs, check] of midVerb) {
  t.test(`caller hangs up during ${verb}: clean end, no leaks`, async (t) => {
    const { port, logs, soundsDir, agent } = await startTestAgent(t, agentConfig(steps))
    await writeFile(join(soundsDir, 'long.wav'), toneWav(3000))
    const baseline = resources()
    const fs = new FakeFreeSwitch()
    const call = fs.placeCall({
      port,
      destination: DID,
      // The transfer target is still ringing when the caller gives up.
      bridge: { outcome: 'no-answer', ringMs: 5000 },
      caller: { hangupAtMs, audio: [{ atMs: 300, wav: toneWav(500, 8000, 300, 12000) }] },
    })
    const result = await call.ended
    t.equal(result.hungUpBy, 'caller')
    await agent.server.drained()
    const ended = logs.find((l) => l.msg === 'call ended during script')
    t.match(ended, { reason: 'CALL_HANGUP', call: result.uuid }, 'the script ended with CALL_HANGUP')
    t.notOk(logs.some((l) => l.msg === 'call script failed'), 'a hangup is not logged as a failure')
    t.notOk(logs.some((l) => l.msg === 'step done' && l.step === steps[steps.length - 1]), 'the interrupted verb did not complete')
    t.doesNotThrow(() => { check(logs) })
    t.same(await leaksSince(baseline), {}, 'no sockets or timers left')
    t.equal(agent.server.activeCalls(), 0)
  })
}

t.test('ESL socket closing in the middle of a command', async (t) => {
  const { port, logs, soundsDir, agent } = await startTestAgent(t, agentConfig([{ verb: 'answer' }, { verb: 'play', file: 'long.wav' }]))
  await writeFile(join(soundsDir, 'long.wav'), toneWav(3000))
  const baseline = resources()
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({ port, destination: DID })
  setTimeout(() => { call.dropSocket() }, 500)
  await call.ended
  await agent.server.drained()
  t.match(logs.find((l) => l.msg === 'call ended during script'), { reason: 'ESL_SOCKET_CLOSED' })
  t.same(await leaksSince(baseline), {}, 'no sockets or timers left')
})

t.test('a script that throws: the caller hears an apology, the call ends, the error is logged with the call id', async (t) => {
  const { port, logs, speaker } = await startTestAgent(t, {
    ...agentConfig([{ verb: 'answer' }, { verb: 'throw' }]),
    routes: { [DID]: { script: 'verbs', language: 'it-IT', options: { steps: [{ verb: 'answer' }, { verb: 'throw' }] } } },
  })
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port, destination: DID }).ended
  t.same(result.apps.map((a) => a.name), ['answer', 'playback'], 'answered, then the apology')
  const apology = (speaker as unknown as { requests: Array<{ text: string }> }).requests.at(-1)
  t.match(apology?.text, /Ci scusiamo/, 'the apology is in the route language')
  t.equal(result.hungUpBy, 'server')
  const failed = logs.find((l) => l.msg === 'call script failed')
  t.match(failed, { call: result.uuid, did: DID, code: 'SCRIPT_FAILED', err: { message: 'script bug' } })
})

t.test('control characters and traversal never reach FreeSWITCH', async (t) => {
  const { port, logs } = await startTestAgent(t, {
    ...agentConfig([]),
    routes: { [DID]: { script: 'unsafe' } },
  })
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port, destination: DID, callerName: 'Eve\r\nsendmsg\r\ncall-command: hangup' }).ended
  const refusals = logs.filter((l) => l.msg === 'unsafe value refused').map((l) => [l.attempt, l.code])
  t.same(refusals, [
    ['play', 'UNSAFE_VALUE'],
    ['play-traversal', 'UNSAFE_VALUE'],
    ['hangup', 'UNSAFE_VALUE'],
    ['transfer', 'TRANSFER_TARGET_UNKNOWN'],
    ['transfer-number', 'TRANSFER_TARGET_UNKNOWN'],
  ])
  t.notOk(logs.some((l) => l.msg === 'unsafe value was accepted'))
  for (const c of result.commands) {
    const text = typeof c === 'string' ? c : JSON.stringify(c)
    t.notMatch(text, /call-command: hangup\\n.*call-command|passwd|execute-app-name: bridge/, 'no injected header was sent')
  }
  t.same(result.apps.map((a) => a.name), ['answer', 'playback'], 'only the legitimate say ran')
})

t.test('a caller ID that looks like a path never becomes one', async (t) => {
  const { port, logs } = await startTestAgent(t, agentConfig([{ verb: 'answer' }, { verb: 'record', maxSeconds: 2 }, { verb: 'hangup' }]))
  const fs = new FakeFreeSwitch()
  const refused = await fs.placeCall({ port, destination: DID, callerNumber: '../../../../tmp/evil' }).ended
  t.notOk(refused.answered, 'a caller number that is a path is refused before answering')
  t.same(refused.recordings, [])
  const result = await fs.placeCall({
    port, destination: DID, callerNumber: '+393331234567', callerName: '../../etc/passwd',
    caller: { audio: [{ atMs: 200, wav: toneWav(800, 8000, 300, 12000) }] },
  }).ended
  t.equal(result.recordings.length, 1)
  t.match(result.recordings[0]!.path, new RegExp(`/recordings/\\d{4}-\\d{2}-\\d{2}/${result.uuid}-1\\.wav$`))
  t.notMatch(result.recordings[0]!.path, /evil|passwd/)
  t.ok(logs.some((l) => l.msg === 'record result'))
})

t.test('transfer to a configured extension hands the call over and does not hang it up', async (t) => {
  const { port } = await startTestAgent(t, agentConfig([{ verb: 'answer' }, { verb: 'transfer', target: 'reception' }]))
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port, destination: DID, transferLegMs: 300 }).ended
  t.same(result.apps.map((a) => `${a.name} ${a.arg}`), ['answer ', 'transfer 1000 XML default'])
  // resume (LFLAG_RESUME) cannot be unset, and with it closing our socket would break a bridge
  // the extension runs (listener_run sets CS_RESET): the transfer needs none.
  t.notOk(result.commands.some((c) => /^resume/.test(c)), 'no resume')
  t.equal(result.hungUpBy, 'caller', 'the call lived on in the dialplan until its far end hung up')
})
t.test('malformed frames from FreeSWITCH are logged and ignored; the call carries on', async (t) => {
  const { port, logs, soundsDir } = await startTestAgent(t, agentConfig([{ verb: 'answer' }, { verb: 'play', file: 'long.wav' }, { verb: 'hangup' }]))
  await writeFile(join(soundsDir, 'long.wav'), toneWav(800))
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({ port, destination: DID })
  setTimeout(() => {
    const bad = '{"Event-Name": "DTMF", "DTMF-Digit": '
    call.sendRaw(`Content-Length: ${Buffer.byteLength(bad)}\nContent-Type: text/event-json\n\n${bad}`)
    const nameless = '{"Unique-ID": "x"}'
    call.sendRaw(`Content-Length: ${Buffer.byteLength(nameless)}\nContent-Type: text/event-json\n\n${nameless}`)
    call.sendRaw('Reply-Text: +OK\n\n')
  }, 300)
  const result = await call.ended
  t.same(result.played.map((p) => p.status), ['done'], 'the file played to the end')
  t.equal(result.hungUpBy, 'server')
  t.ok(logs.some((l) => l.msg === 'malformed event from FreeSWITCH ignored'))
  t.ok(logs.some((l) => l.msg === 'event without Event-Name ignored'))
  t.notOk(logs.some((l) => l.msg === 'call script failed'))
})

for (const mode of ['files', 'stream'] as const) {
  t.test(`shutdown past the deadline (${mode} mode): the call in progress hears a goodbye, then is hung up`, async (t) => {
    const { port, soundsDir, agent, logs, speaker } = await startTestAgent(t, { ...agentConfig([{ verb: 'answer' }, { verb: 'play', file: 'long.wav' }, { verb: 'say', text: 'never said' }]), media: { mode } })
    await writeFile(join(soundsDir, 'long.wav'), toneWav(10_000))
    const fs = new FakeFreeSwitch()
    const call = fs.placeCall({ port, destination: DID, caller: { hangupAtMs: 30_000 } })
    await new Promise((resolve) => setTimeout(resolve, 800))
    await agent.server.endAll('shutdown')
    const result = await call.ended
    t.equal(result.hungUpBy, 'server')
    t.equal(result.hangupCause, 'SYSTEM_SHUTDOWN')
    t.ok(result.endedAtMs < 10_000, `the 10 s prompt was cut (call ended at ${result.endedAtMs} ms)`)
    const said = (speaker as unknown as { requests: Array<{ text: string }> }).requests.map((r) => r.text)
    t.ok(said.some((x) => /have to end this call/.test(x)), 'the goodbye was rendered')
    t.notOk(said.includes('never said'), 'the script did not carry on')
    if (mode === 'files') t.same(result.apps.map((a) => a.name), ['answer', 'playback', 'playback'], 'prompt, then the goodbye')
    t.notOk(logs.some((l) => l.msg === 'call script failed'))
  })
}

for (const mode of ['files', 'stream'] as const) {
  t.test(`a bridge nobody answers leaves the call with the script (${mode} mode): it can still speak`, async (t) => {
    const { port, logs } = await startTestAgent(t, {
      ...agentConfig([{ verb: 'answer' }, { verb: 'say', text: 'Connecting you.' }, { verb: 'transfer', target: 'mobile' }, { verb: 'say', text: 'Nobody answered, please leave a message.' }, { verb: 'hangup' }]),
      media: { mode },
    })
    const fs = new FakeFreeSwitch()
    const result = await fs.placeCall({ port, destination: DID, bridge: { outcome: 'fail', cause: 'NO_ANSWER' } }).ended
    t.match(logs.find((l) => l.msg === 'transfer result'), { connected: false })
    t.equal(result.hungUpBy, 'server', 'the caller was not dropped by the failed transfer')
    if (mode === 'files') {
      t.ok(result.apps.some((a) => a.name === 'multiset' && a.arg.includes('continue_on_fail=true')), 'continue_on_fail set with the bridge')
      t.equal(result.apps.at(-1)?.name, 'playback', 'the apology after the bridge was played')
    } else {
      // A failed bridge would reset the session and end unicast for good: stream mode rings the
      // target as its own leg instead, and the caller's leg never bridges.
      t.notOk(result.apps.some((a) => a.name === 'bridge'), 'no bridge on the caller\'s leg')
      t.equal(result.unicast.length, 1, 'one stream, never reset')
      t.notOk(result.unicast[0]?.closedBy === 'reset')
      const legEnd = result.legs[0]?.endedMs ?? Infinity
      t.equal(result.legs[0]?.endCause, 'NO_ANSWER')
      t.ok(result.heard.some((h) => h.source === 'unicast' && h.arrivalMs > legEnd && level(h.samples) > 100), 'and the caller heard the agent on it after the failure')
      t.same(result.apps.filter((a) => a.name === 'playback' || a.name === 'record'), [], 'still no playback or record')
    }
  })
}
