import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { whiteNoise } from '../media-stream/signals.ts'
import { CALLER, CHAT, DID, STT, callerTurnMs, chatRequests, placeHeardCall, reply, startRig, transcript } from './helpers.ts'
import { lineEchoPauses, voice } from './line-echo.ts'

/**
 * Turn-taking in stream mode: two-step barge-in (pause, then decide by length and words) and
 * adaptive endpointing (finished words end the turn fast, trailing words wait).
 */

const LONG = 'Allora, le spiego con calma tutte le opzioni che abbiamo a disposizione per questo servizio, una per una, senza tralasciare nulla di importante. '
const sttCount = (rig: Awaited<ReturnType<typeof startRig>>): number => rig.fake.requests.filter((r) => r.path === STT).length

/** Speaks `overlap` 100 ms into the agent's reply; returns when the call ends. */
async function overlapDuringReply (rig: Awaited<ReturnType<typeof startRig>>, overlap: Buffer): Promise<{ at: number | undefined, call: ReturnType<FakeFreeSwitch['placeCall']> }> {
  const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { hangupAtMs: 20_000 } })
  // The caller's turn, then the reply to it: the first loud audio after their words, not a fixed
  // point of the call (under load the greeting itself can come that late).
  const spoken = voice(500, 900)
  const turnAt = await callerTurnMs(call)
  call.say(turnAt + spoken.atMs, spoken.wav)
  const wordsEnd = turnAt + spoken.atMs + 900
  let at: number | undefined
  const watcher = setInterval(() => {
    const replyStart = call.ear.firstHeard(wordsEnd, 200)
    if (at === undefined && replyStart !== undefined && call.nowMs > replyStart.playMs + 100) {
      at = call.nowMs + 20
      call.say(at, overlap)
    }
  }, 20)
  await call.ended
  clearInterval(watcher)
  return { at, call }
}

t.test('a backchannel ("sì") over the reply only pauses it: the agent goes on where it stopped', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream', stream: { vad: { engine: 'silero' } } } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Sì.'))
  rig.fake.reply(CHAT, reply([LONG, LONG], { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const { at } = await overlapDuringReply(rig, voice(0, 450, 180).wav)
  t.ok(at !== undefined, 'the caller said "sì" over the reply')
  t.ok(rig.logs.some((l) => l.msg === 'overlap was not a barge-in: resumed' && l.why === 'backchannel'), 'judged a backchannel and resumed')
  t.notOk(rig.logs.some((l) => l.msg === 'caller barged in'), 'no barge-in')
  t.equal(chatRequests(rig.fake).length, 1, 'the model was not asked again')
  const agent = rig.store.calls[0]!.turns.filter((x) => x.role === 'agent')
  t.notOk(agent.some((x) => x.interrupted === true), 'the reply was heard in full')
  t.same(rig.store.calls[0]!.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere le opzioni.'], '"sì" is not a turn')
  await rig.settled(t)
})

t.test('a cough over the reply (too short to be speech) resumes it without asking the recogniser', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'))
  rig.fake.reply(CHAT, reply([LONG], { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  await overlapDuringReply(rig, voice(0, 160, 200).wav)
  // Depending on the detector it only pauses the agent (then resumes) or does not even do that.
  const paused = rig.logs.filter((l) => l.msg === 'caller speech over the agent: paused').length
  t.equal(rig.logs.filter((l) => l.msg === 'overlap was not a barge-in: resumed' && l.why === 'too short').length, paused, 'every pause resumed')
  t.equal(sttCount(rig), 1, 'only the caller\'s real turn was transcribed')
  t.notOk(rig.logs.some((l) => l.msg === 'caller barged in'))
  await rig.settled(t)
})

t.test('an interrupting word ("aspetta") cuts the reply; it is the caller\'s next turn', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Aspetta.'))
  // A reply long enough (six sentences, ~2 s with the tone speaker) to be still playing when the words are judged.
  rig.fake.reply(CHAT, reply([LONG, LONG, LONG, LONG, LONG, LONG]), reply('Certo, mi dica.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  await overlapDuringReply(rig, voice(0, 500, 180).wav)
  t.ok(rig.logs.some((l) => l.msg === 'caller barged in'), 'barge-in')
  const turns = rig.store.calls[0]!.turns
  t.same(turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere le opzioni.', 'Aspetta.'])
  const cut = turns.find((x) => x.role === 'agent' && x.interrupted === true)
  t.ok(cut !== undefined && cut.text.length < 6 * LONG.trim().length, `the reply is kept as heard (${cut?.text.length ?? 0} characters)`)
  t.equal(chatRequests(rig.fake)[1]?.messages.at(-1)?.content, 'Aspetta.')
  await rig.settled(t)
})

t.test('line noise over the reply does not even pause it', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'))
  rig.fake.reply(CHAT, reply([LONG], { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  await overlapDuringReply(rig, encodeWav({ sampleRate: 8000, channels: 1, samples: whiteNoise(8000, 1, -35) }))
  t.notOk(rig.logs.some((l) => l.msg === 'caller speech over the agent: paused'))
  await rig.settled(t)
})

t.test('adaptive endpointing: a pause after a trailing word does not end the turn', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  // The recogniser hears the words so far at each pause; the caller goes on after "e".
  rig.fake.reply(STT, transcript('Vorrei sapere il prezzo e'), transcript('Vorrei sapere il prezzo e gli orari.'))
  rig.fake.reply(CHAT, reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const call = placeHeardCall({
    port: rig.port, destination: DID, callerNumber: CALLER,
    // 800 ms of silence between the two parts: past the short pause, within the long one.
    caller: { audio: [voice(1500, 800), voice(3100, 700, 150)], hangupAtMs: 20_000 },
  })
  await call.ended
  t.same(rig.store.calls[0]!.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere il prezzo e gli orari.'], 'one turn, all of it')
  t.equal(sttCount(rig), 2, 'the recognition at the pause was dropped and redone')
  t.ok(rig.logs.some((l) => l.msg === 'words trail off: waiting for more'))
  const stt = rig.store.calls[0]!.usage.reduce((n, u) => n + (u.sttSeconds ?? 0), 0)
  t.ok(stt > 2.2, `the dropped recognition is billed too (${stt.toFixed(2)} s)`)
  await rig.settled(t)
})

t.test('adaptive endpointing: with adaptive off, the fixed silence ends the turn', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream', stream: { endpointing: { adaptive: false }, vad: { endSilenceMs: 400 } } } })
  rig.fake.reply(STT, transcript('Vorrei sapere il prezzo e'), transcript('gli orari.'))
  rig.fake.reply(CHAT, reply('Quale prezzo?'), reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const call = placeHeardCall({
    port: rig.port, destination: DID, callerNumber: CALLER,
    caller: { audio: [voice(1500, 800), voice(3100, 700, 150)], hangupAtMs: 20_000 },
  })
  await call.ended
  t.equal(rig.store.calls[0]!.turns.filter((x) => x.role === 'caller')[0]?.text, 'Vorrei sapere il prezzo e', 'cut at the pause, as before')
  await rig.settled(t)
})

t.test('speech that starts as a short reply ends is not lost: it is the caller\'s next turn', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Aspetta.'))
  rig.fake.reply(CHAT, reply('Bene.'), reply('Certo, mi dica.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  await overlapDuringReply(rig, voice(0, 500, 180).wav)
  t.same(rig.store.calls[0]!.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere le opzioni.', 'Aspetta.'])
  await rig.settled(t)
})

t.test('line echo of the agent\'s own reply: the echo guard keeps it from pausing or cutting the agent', async (t) => {
  const pauses = await lineEchoPauses(t)
  // On a quiet machine the guarded call pauses 0 times and the unguarded one about 8; under heavy
  // load the guard's alignment (arrival times) jitters and some pauses get through, which the
  // barge-in's second step then resumes: what must hold is that the echo never cuts the reply.
  t.ok(pauses.unguarded > 0, `the echo does reach the detector without the guard (${pauses.unguarded} pauses; ${pauses.guarded} with it)`)
})
