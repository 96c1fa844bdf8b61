import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { CALLER, CHAT, DID, STT, chatRequests, reply, startRig, transcript } from './helpers.ts'

/** Speech the VAD recognises as a voice (a pure tone would be taken for ringback). */
function voice (atMs: number, ms: number, f0 = 140): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0 }) }) }
}

const LONG = 'Allora, le spiego con calma tutte le opzioni che abbiamo a disposizione per questo servizio, una per una, senza tralasciare nulla di importante. '

t.test('a streamed conversation: the caller barges in mid-sentence, the agent stops at once and listens', async (t) => {
  const baseline = resources()
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Basta così, grazie.'))
  rig.fake.reply(CHAT,
    reply([LONG, LONG, LONG]),
    reply('Va bene, arrivederci.', { tools: [{ name: 'end_call', args: { reason: 'caller_request' } }] }))
  const fs = new FakeFreeSwitch()
  // First words at 0.5 s; the reply (three sentences of ~0.3 s each with the tone speaker)
  // starts about a second later; the caller cuts in 0.1 s into it.
  const call = fs.placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)] } })
  let bargeAt: number | undefined
  const watcher = setInterval(() => {
    if (bargeAt !== undefined) return
    const replyStart = rig.logs.find((l) => l.msg === 'conversation started') ? call.ear.firstHeard(1800, 200) : undefined
    if (replyStart !== undefined && call.nowMs > replyStart.playMs + 100) {
      bargeAt = call.nowMs + 20
      call.say(bargeAt, voice(0, 1000, 180).wav)
    }
  }, 20)
  const result = await call.ended
  clearInterval(watcher)

  t.same(result.apps.filter((a) => a.name === 'playback' || a.name === 'record'), [], 'never playback or record: they would end unicast')
  t.ok(bargeAt !== undefined, 'the caller barged in')
  const interrupted = rig.logs.find((l) => l.msg === 'caller barged in')
  t.ok(interrupted, 'barge-in detected')
  // What the caller heard of the agent after starting to talk: VAD confirmation (minSpeechMs,
  // 300 ms) plus at most a couple of queued frames, never the rest of the reply.
  const stoppedAt = call.ear.lastHeardEndMs(bargeAt! + 1500, 200) ?? 0
  t.ok(stoppedAt - bargeAt! < 300 + 250, `agent audio stopped ${stoppedAt - bargeAt!} ms after the caller started`)

  const captured = rig.store.calls[0]!
  const agentTurns = captured.turns.filter((x) => x.role === 'agent')
  const cut = agentTurns.find((x) => x.interrupted === true)
  t.ok(cut, 'the interrupted reply is in the transcript, marked interrupted')
  t.ok((cut?.text.length ?? 0) < LONG.length * 3 - 10, 'and truncated to what was heard')
  t.same(captured.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere le opzioni.', 'Basta così, grazie.'])
  const second = chatRequests(rig.fake)[1]!.messages
  t.equal(second.at(-1)?.content, 'Basta così, grazie.', 'the model heard what the caller said over it')
  t.equal(result.hungUpBy, 'server')
  await rig.settled(t)
  t.same(await leaksSince(baseline, ['Timeout', 'UDPWrap']), {}, 'no timers or UDP sockets left')
})
