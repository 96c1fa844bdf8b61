import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { dtmf, speechLike, tones, whiteNoise } from '../media-stream/signals.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { CALLER, CHAT, DID, STT, bargeInAfterReplyStarts, chatRequests, reply, startBargeInRig, startRig, transcript } from './helpers.ts'
import { withLoopDelay } from '../helpers/loop-delay.ts'

/** Speech the VAD recognises as a voice (a pure tone would be taken for ringback). */
function voice (atMs: number, ms: number, f0 = 140): { atMs: number, wav: Buffer } {
  return { atMs, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, ms / 1000, -18, { f0 }) }) }
}

const LONG = 'Allora, le spiego con calma tutte le opzioni che abbiamo a disposizione per questo servizio, una per una, senza tralasciare nulla di importante. '

t.test('a streamed conversation: the caller barges in mid-sentence, the agent stops at once and listens', async (t) => {
  const baseline = resources()
  // The product's default detector (Silero, batched), end to end.
  const rig = await startBargeInRig(t, LONG)
  const fs = new FakeFreeSwitch()
  // First words at 0.5 s; the reply (three sentences of ~0.3 s each with the tone speaker)
  // starts about a second later; the caller cuts in 0.1 s into it.
  const call = fs.placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)] } })
  const barge = bargeInAfterReplyStarts(rig, call, voice(0, 1000, 180).wav)
  const { value: result, loopLagMs } = await withLoopDelay(async () => await call.ended)
  barge.stop()
  const bargeAt = barge.at

  t.same(result.apps.filter((a) => a.name === 'playback' || a.name === 'record'), [], 'never playback or record: they would end unicast')
  t.ok(bargeAt !== undefined, 'the caller barged in')
  const interrupted = rig.logs.find((l) => l.msg === 'caller barged in')
  t.ok(interrupted, 'barge-in detected')
  // What the caller heard of the agent after starting to talk: the first step pauses it at the
  // first voiced frames (pauseAfterMs, 60 ms) plus at most a couple of queued frames; the reply
  // to what they said comes later, after their pause.
  // An order, not a speed (speed is in bench/turn-taking.ts): the agent went quiet while the
  // caller's one-second line was still going (a stall of this process, a loaded machine, delays
  // the agent's hearing of it by as much).
  // The reply to what they said starts ~1.3 s after they started: the stop is where the audio
  // playing when they started went quiet, not the last loud frame before the line's end.
  const lineEnd = bargeAt! + 1000 + loopLagMs
  // A stall of this process leaves a stretch with no frame, not a stop: the agent stops with silence.
  const stoppedAt = call.ear.stoppedAfterMs(bargeAt!, 200, false)
  t.ok(stoppedAt < lineEnd, `agent audio stopped ${stoppedAt - bargeAt!} ms after the caller started, before they finished (loop lag ${loopLagMs} ms)`)
  const nextReply = call.ear.firstHeard(stoppedAt, 200)?.playMs
  t.ok(nextReply === undefined || nextReply >= bargeAt! + 1000, `and did not talk again until their line was over (${nextReply === undefined ? 'never' : `${nextReply - bargeAt!} ms`})`)

  const captured = rig.store.calls[0]!
  const agentTurns = captured.turns.filter((x) => x.role === 'agent')
  const cut = agentTurns.find((x) => x.interrupted === true)
  t.ok(cut, 'the interrupted reply is in the transcript, marked interrupted')
  t.ok((cut?.text.length ?? 0) < LONG.length * 3 - 10, 'and truncated to what was heard')
  t.same(captured.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere le opzioni.', 'Basta così, grazie.'])
  const second = chatRequests(rig.fake)[1]!.messages
  t.equal(second.at(-1)?.content, 'Basta così, grazie.', 'the model heard what the caller said over it')
  // What the cut reply cost is billed: its synthesised sentences and its tokens.
  const tts = captured.usage.reduce((n, u) => n + (u.ttsCharacters ?? 0), 0)
  t.ok(tts >= LONG.trim().length, `the interrupted reply's synthesis is counted (${tts} characters)`)
  t.ok(captured.usage.reduce((n, u) => n + (u.llmOutputTokens ?? 0), 0) > 0, 'and its tokens')
  t.equal(result.hungUpBy, 'server')
  await rig.settled(t)
  t.same(await leaksSince(baseline, ['Timeout', 'UDPWrap']), {}, 'no timers or UDP sockets left')
})

t.test('tones and noise from the caller\'s line during a reply do not interrupt it', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'))
  rig.fake.reply(CHAT, reply([LONG, LONG], { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)] } })
  let sent = false
  const watcher = setInterval(() => {
    const replyStart = call.ear.firstHeard(1800, 200)
    if (sent || replyStart === undefined) return
    sent = true
    const at = call.nowMs + 20
    // Italian ringback (425 Hz, 1 s on), DTMF digits, and white noise at line level.
    call.say(at, encodeWav({ sampleRate: 8000, channels: 1, samples: tones(8000, 1, [425], -14) }))
    call.say(at + 1000, encodeWav({ sampleRate: 8000, channels: 1, samples: dtmf(8000, '1234#', -10) }))
    call.say(at + 2000, encodeWav({ sampleRate: 8000, channels: 1, samples: whiteNoise(8000, 0.8, -35) }))
  }, 20)
  const result = await call.ended
  clearInterval(watcher)
  t.ok(sent, 'the line noise was played during the reply')
  t.notOk(rig.logs.some((l) => l.msg === 'caller barged in'), 'no barge-in')
  const agentTurns = rig.store.calls[0]!.turns.filter((x) => x.role === 'agent')
  t.notOk(agentTurns.some((x) => x.interrupted === true), 'the reply was heard to the end')
  t.equal(result.hungUpBy, 'server')
  await rig.settled(t)
})

t.test('streaming recognition: live frames go to Google\'s streamingRecognize during the caller\'s speech', async (t) => {
  const { FakeGoogleServer } = await import('../fakes/google-grpc.ts')
  const { SpeechClient } = await import('@google-cloud/speech')
  const { googleClientOptions } = await import('../../lib/providers/google-client.ts')
  const { GoogleStt } = await import('../../lib/speech/stt/google.ts')
  const { ProviderQueue } = await import('../../lib/providers/queue.ts')
  const google = await FakeGoogleServer.start()
  const client = new SpeechClient(googleClientOptions({ apiEndpoint: '127.0.0.1', port: google.port, insecure: true }))
  const stt = new GoogleStt({ client, name: 'google', model: 'phone_call', useEnhanced: true, punctuation: true, language: 'it-IT', hints: [], queue: new ProviderQueue('google', 4), retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 }, timeoutMs: 5000 })
  t.teardown(async () => { await client.close(); await google.close() })
  const audioAt: number[] = []
  google.script('streamingRecognize', {
    kind: 'stream',
    respond: (request, index) => {
      if (index === 0) return []
      audioAt.push(Date.now())
      return index === 10 ? [{ results: [{ alternatives: [{ transcript: 'Vorrei' }], isFinal: false, stability: 0.5 }] }] : []
    },
    onEnd: () => [{ results: [{ alternatives: [{ transcript: 'Vorrei sapere gli orari.', confidence: 0.93 }], isFinal: true }] }],
  })
  const rig = await startRig(t, { media: { mode: 'stream' }, stt })
  rig.fake.reply(CHAT, reply('Siamo aperti dalle nove alle diciotto.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const fs = new FakeFreeSwitch()
  const { value: result, loopDelayMs } = await withLoopDelay(async () =>
    await fs.placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 1200)] } }).ended)
  t.equal(result.hungUpBy, 'server')
  t.ok(audioAt.length >= 40, `audio went to the recogniser frame by frame (${audioAt.length} messages)`)
  // Both times are when the recogniser got the frames, so a late agent shifts them alike; a
  // stall of this process (a loaded machine) can still bunch them up by as much as it lasted.
  const spreadMs = audioAt.at(-1)! - audioAt[20]!
  t.ok(spreadMs > 300 - loopDelayMs, `while the caller was still speaking, not after (frames 20 to the last ${spreadMs} ms apart, loop delay ${loopDelayMs} ms)`)
  const latency = rig.store.calls[0]!.latency[0]!
  t.equal(chatRequests(rig.fake)[0]?.messages.at(-1)?.content, 'Vorrei sapere gli orari.', 'the final transcript reached the model')
  // An order, not a speed (speed is in bench/): end of speech, final transcript, the model.
  t.ok(latency.speechEndAt! <= latency.sttFinalAt! && latency.sttFinalAt! <= latency.llmFirstTokenAt!, `final transcript ${latency.sttFinalAt! - latency.speechEndAt!} ms after the end of speech (end silence included), before the model answered`)
  await rig.settled(t)
})

t.test('stream mode: DTMF 0 cuts the reply at once and reaches the operator', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Mi racconti tutto.'))
  rig.fake.reply(CHAT, reply([LONG, LONG, LONG]))
  const fs = new FakeFreeSwitch()
  const call = fs.placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)] } })
  let pressedAt: number | undefined
  const watcher = setInterval(() => {
    const replyStart = call.ear.firstHeard(1800, 200)
    if (pressedAt === undefined && replyStart !== undefined && call.nowMs > replyStart.playMs + 100) {
      pressedAt = call.nowMs
      call.sendDtmf('0')
    }
  }, 20)
  const result = await call.ended
  clearInterval(watcher)
  t.ok(pressedAt !== undefined, 'the caller pressed 0 during the reply')
  t.equal(result.transfer?.to, '1000', 'transferred to the operator')
  // An order, not a speed: the three sentences last 3 x 2 ms a character (the tone speaker).
  const replyStart = call.ear.firstHeard(1800, 200)!.playMs
  const stoppedAt = call.ear.lastHeardEndMs(pressedAt! + 5000, 200) ?? 0
  t.ok(stoppedAt < replyStart + LONG.length * 3 * 2, `the reply stopped ${stoppedAt - pressedAt!} ms after the key, before it would have ended`)
  t.same(result.apps.filter((a) => a.name === 'playback' || a.name === 'record'), [], 'still no playback or record')
  t.equal(rig.store.calls[0]!.end?.outcome, 'transferred')
  await rig.settled(t)
})

t.test('a reply cut by barge-in while the model is still streaming: its tokens are estimated, not lost', async (t) => {
  const rig = await startRig(t, { media: { mode: 'stream' } })
  rig.fake.reply(STT, transcript('Vorrei sapere le opzioni.'), transcript('Basta così, grazie.'))
  rig.fake.reply(CHAT,
    reply([LONG, LONG, LONG, LONG, LONG], { delayMs: 500 }),
    reply('Va bene, arrivederci.', { tools: [{ name: 'end_call', args: { reason: 'caller_request' } }] }))
  const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [voice(500, 900)] } })
  let barged = false
  const watcher = setInterval(() => {
    const replyStart = rig.logs.find((l) => l.msg === 'conversation started') ? call.ear.firstHeard(1800, 200) : undefined
    if (!barged && replyStart !== undefined && call.nowMs > replyStart.playMs + 100) {
      barged = true
      call.say(call.nowMs + 20, voice(0, 1000, 180).wav)
    }
  }, 20)
  await call.ended
  clearInterval(watcher)
  t.ok(rig.logs.some((l) => l.msg === 'caller barged in'), 'barged in while the model streamed')
  const usage = rig.store.calls[0]!.usage
  // The finished second reply reports 100 input / 20 output tokens; the cut one adds an estimate.
  t.ok(usage.reduce((n, u) => n + (u.llmInputTokens ?? 0), 0) > 100, 'the cut request\'s input is estimated')
  t.ok(usage.reduce((n, u) => n + (u.llmOutputTokens ?? 0), 0) > 20, 'and its output so far')
  await rig.settled(t)
})
