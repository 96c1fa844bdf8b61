import t from 'tap'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { encodeWav, parseWav } from '../../lib/media/wav.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { speechLike } from '../media-stream/signals.ts'
import { CALLER, CHAT, DID as CONV_DID, STT, placeHeardCall, reply, startRig, transcript } from '../conversation/helpers.ts'

/**
 * When the caller's RTP stops (silence suppression, hold, loss), FreeSWITCH keeps sending
 * unicast datagrams of 0xFF (switch_ivr.c switch_ivr_park, SFF_CNG). They are silence: the
 * caller's turn and a message end as they would on a line that keeps sending RTP.
 */

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))
const speech = (seconds: number): Buffer => encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, seconds, -20) })

t.test('a message ends by silence when the phone stops sending RTP after the caller spoke', async (t) => {
  const { port, logs } = await startTestAgent(t, {
    media: { mode: 'stream' },
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'record', maxSeconds: 20 }, { verb: 'hangup' }] } } },
  })
  // Relative to when we start listening: a loaded machine once started it after the speech.
  const result = await placeHeardCall({
    port, destination: DID,
    caller: { audio: [{ atMs: 500, wav: speech(1.2) }], rtpGaps: [{ atMs: 1700, durationMs: 30_000 }], hangupAtMs: 25_000 },
  }).ended
  t.equal(result.hungUpBy, 'server', 'the script ended the call, not the caller\'s patience')
  t.ok(result.endedAtMs < 20_000, `ended ${result.endedAtMs} ms in, before the record's 20 s limit`)
  const rec = logs.find((l) => l.msg === 'record result')
  const wav = parseWav(await readFile(rec!.recorded as string))
  const seconds = wav.samples.length / wav.sampleRate
  t.ok(seconds > 1.2 && seconds < 4, `the message holds the speech and ends after the silence (${seconds.toFixed(2)} s)`)
})

t.test('a caller on hold (no RTP) after speaking gets the normal end of turn and a reply', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei un appuntamento.'))
  rig.fake.reply(CHAT, reply('Certo, arrivederci.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const result = await placeHeardCall({
    port: rig.port, destination: CONV_DID, callerNumber: CALLER,
    caller: { audio: [{ atMs: 500, wav: speech(0.9) }], hold: [{ atMs: 1400, durationMs: 30_000 }], hangupAtMs: 25_000 },
  }).ended
  t.equal(result.hungUpBy, 'server', 'the agent replied and ended the call')
  t.equal(rig.store.calls[0]!.turns.at(-1)?.text, 'Certo, arrivederci.', `the reply ended it (${result.endedAtMs} ms in), not a timeout`)
  t.same(rig.store.calls[0]!.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei un appuntamento.'])
  await rig.settled(t)
})
