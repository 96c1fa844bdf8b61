import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav, parseWav } from '../../lib/media/wav.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { toneWav } from '../helpers/speaker.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { speechLike } from '../media-stream/signals.ts'

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))
const speech = (seconds: number): Buffer => encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, seconds, -20) })

t.test('stream mode: take-message runs entirely over unicast, never playback or record', async (t) => {
  const { port, agent } = await startTestAgent(t, { media: { mode: 'stream' }, routes: { [DID]: { script: 'take-message' } } })
  const baseline = resources()
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({
    port, destination: DID, callerNumber: '+393331234567',
    caller: { audio: [{ atMs: 1200, wav: speech(1.5) }] },
  }).ended
  t.same(result.apps.map((a) => a.name), ['answer'], 'no playback or record: they would end unicast for good')
  t.equal(result.unicast.length, 1, 'one unicast stream')
  t.notOk(result.unicast[0]?.failed, 'FreeSWITCH bound its side')
  const heard = result.heard.filter((h) => h.source === 'unicast')
  t.ok(heard.length > 10, `the caller heard the agent over the stream (${heard.length} frames)`)
  t.equal(result.hungUpBy, 'server')
  t.equal(result.recordings.length, 0, 'FreeSWITCH recorded nothing: we did')
  await agent.server.drained()
  t.same(await leaksSince(baseline), {}, 'UDP socket, timers and TCP socket all released')
})

t.test('stream mode: the message is written from the caller\'s stream, ending after the silence', async (t) => {
  const { port, logs } = await startTestAgent(t, {
    media: { mode: 'stream' },
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'record', maxSeconds: 10 }, { verb: 'hangup' }] } } },
  })
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port, destination: DID, caller: { audio: [{ atMs: 500, wav: speech(1.2) }] } }).ended
  const rec = logs.find((l) => l.msg === 'record result')
  t.type(rec?.recorded, 'string', 'a recording was written')
  const wav = parseWav(await readFile(rec!.recorded as string))
  const seconds = wav.samples.length / wav.sampleRate
  t.ok(seconds > 1.2 && seconds < 4, `it holds the 1.2 s of speech and ends ~1 s after it (${seconds.toFixed(2)} s)`)
  t.match(rec!.recorded, new RegExp(`/recordings/.*/${result.uuid}-1\\.wav$`))
})

t.test('stream mode: hanging up mid-prompt stops the stream at once and leaks nothing', async (t) => {
  const { port, soundsDir, agent, logs } = await startTestAgent(t, {
    media: { mode: 'stream' },
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'play', file: 'long.wav' }] } } },
  })
  await writeFile(join(soundsDir, 'long.wav'), toneWav(4000))
  const baseline = resources()
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port, destination: DID, caller: { hangupAtMs: 800 } }).ended
  await agent.server.drained()
  t.match(logs.find((l) => l.msg === 'call ended during script'), { reason: 'CALL_HANGUP' })
  const heardMs = result.heard.filter((h) => h.source === 'unicast').length * 20
  t.ok(heardMs < 1500, `the caller heard only until the hangup (${heardMs} ms of a 4 s file)`)
  t.same(await leaksSince(baseline), {})
})
