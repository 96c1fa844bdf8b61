import t from 'tap'
import { FakeFreeSwitch, type SimulatedCall } from '../../lib/simulator/index.ts'
import { callerTurnMs } from '../conversation/helpers.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { withLoopDelay } from '../helpers/loop-delay.ts'
import { CALLER, DID, startRealtimeRig, voice, type Vendor } from './rig.ts'

const LONG = 'Il sabato siamo aperti dalle nove alle tredici, e la domenica siamo chiusi, ma può sempre lasciare un messaggio in segreteria.'

for (const vendor of ['openai', 'gemini'] as const satisfies readonly Vendor[]) {
  t.test(`${vendor}: greeting, two turns, a barge-in, a refused number then a transfer, all on the record`, async (t) => {
    const baseline = resources()
    const rig = await startRealtimeRig(t, vendor)
    rig.fake
      .caller('Vorrei sapere gli orari.', 'E il sabato?', 'Mi passi il numero più tre nove zero due...')
      .reply(
        { text: 'Siamo aperti dalle nove alle diciotto.', audioMs: 1000 },
        { text: LONG, audioMs: 5000 },
        { text: 'Provo a chiamare quel numero.', audioMs: 600, tools: [{ name: 'transfer_call', args: { target: '+390212345678' } }] },
        { text: 'Non posso chiamare numeri, la passo alle vendite.', audioMs: 800, tools: [{ name: 'transfer_call', args: { target: 'sales' } }] },
      )
    const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER })
    const { value: [bargeAt, result], loopLagMs } = await withLoopDelay(async () => [await twoTurnsThenBargeIn(call), await call.ended] as const)

    t.equal(result.transfer?.to, '2000', 'the configured transfer ran (sales)')
    t.same(result.apps.filter((a) => a.name === 'playback' || a.name === 'record'), [], 'never playback or record: they would end unicast')
    t.notOk(result.apps.some((a) => a.name === 'bridge' && /390212345678/.test(a.arg ?? '')), 'the number the model asked for was never dialled')
    const refused = rig.logs.find((l) => l.msg === 'tool call refused')
    t.equal(refused?.code, 'unknown_target', 'the number was refused as a tool call')

    const captured = rig.store.calls[0]!
    t.same(captured.turns.filter((x) => x.role === 'caller').map((x) => x.text), ['Vorrei sapere gli orari.', 'E il sabato?', 'Mi passi il numero più tre nove zero due...'])
    const agentTurns = captured.turns.filter((x) => x.role === 'agent')
    t.equal(agentTurns[0]?.text, 'Buongiorno, come posso aiutarla?', 'the greeting first')
    t.equal(agentTurns[1]?.text, 'Siamo aperti dalle nove alle diciotto.')
    const cut = agentTurns.find((x) => x.interrupted === true)
    t.ok(cut, 'the interrupted reply is in the transcript, marked interrupted')
    t.ok(cut !== undefined && cut.text.length < LONG.length && LONG.startsWith(cut.text), `truncated to what was heard: "${cut?.text}"`)
    t.ok(agentTurns.some((x) => x.text === 'Non posso chiamare numeri, la passo alle vendite.'), 'the reply after the refusal')

    const barge = rig.logs.find((l) => l.msg === 'caller barged in')
    t.ok(barge, 'barge-in detected')
    // A stall of this process leaves a stretch with no frame, not a stop: the agent stops with silence.
    const stoppedAt = call.ear.stoppedAfterMs(bargeAt, 200, false)
    t.ok(stoppedAt < bargeAt + BARGE_MS + loopLagMs, `agent audio stopped ${stoppedAt - bargeAt} ms into the caller's ${BARGE_MS} ms line over it (loop lag ${loopLagMs} ms)`)
    const nextReply = replyHeard(call, stoppedAt)
    t.ok(nextReply === undefined || nextReply >= bargeAt + BARGE_MS, `and did not talk again until their line was over (${nextReply === undefined ? 'never' : `${nextReply - bargeAt} ms`})`)

    t.ok(captured.latency.length >= 3, `latency per turn (${captured.latency.length})`)
    for (const l of captured.latency) {
      t.ok(l.speechEndAt! <= l.ttsAudioAt! && l.ttsAudioAt! <= l.firstFrameAt!, `turn ${l.turn}: caller stop -> first vendor audio -> first frame`)
    }
    t.ok(captured.usage.reduce((n, u) => n + (u.llmInputTokens ?? 0), 0) > 0, 'vendor tokens recorded')
    t.ok(captured.usage.reduce((n, u) => n + (u.costEstimate ?? 0), 0) > 0, 'priced from the price table')
    t.equal(captured.end?.outcome, 'transferred')
    const audio = rig.logs.find((l) => l.msg === 'realtime audio')
    t.ok(Number(audio?.audioInSeconds) > 2 && Number(audio?.audioOutSeconds) > 2, `audio seconds both ways logged (${String(audio?.audioInSeconds)} in, ${String(audio?.audioOutSeconds)} out)`)

    if (vendor === 'openai') {
      const truncate = rig.fake.messages('conversation.item.truncate')[0]
      t.ok(truncate, 'the vendor was told to truncate the interrupted item')
      t.ok(Number(truncate?.audio_end_ms) > 0 && Number(truncate?.audio_end_ms) < 5000, `at the played position (${String(truncate?.audio_end_ms)} ms of 5000)`)
      const greeting = rig.fake.messages('conversation.item.create')[0] as { item: { role: string, content: Array<{ text: string }> } }
      t.equal(greeting.item.role, 'assistant', 'the model was told what the greeting said')
      const outputs = rig.fake.messages('conversation.item.create').map((m) => m.item as { type: string, output?: string }).filter((i) => i.type === 'function_call_output')
      t.match(outputs[0]?.output, /error/, 'the refusal went back to the model as the tool result')
    } else {
      t.ok(rig.fake.messages('clientContent').length > 0, 'the model was told what the greeting said')
      const responses = rig.fake.messages('toolResponse').map((m) => JSON.stringify(m))
      t.match(responses[0], /error/, 'the refusal went back to the model as the tool response')
    }
    await until(() => rig.fake.openConnections === 0)
    t.equal(rig.fake.openConnections, 0, 'the vendor socket was closed')
    t.same(await leaksSince(baseline, ['Timeout', 'UDPWrap']), {}, 'no timers or UDP sockets left')
  })
}

t.test('the operator key cuts the vendor\'s reply at once and reaches the operator', async (t) => {
  const rig = await startRealtimeRig(t, 'openai')
  rig.fake.caller('Mi racconti tutto.').reply({ text: LONG, audioMs: 6000 })
  const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER })
  const wordsEnd = say(call, await callerTurnMs(call) + 300, 900)
  let pressedAt: number | undefined
  const watcher = setInterval(() => {
    const replyStart = call.ear.firstHeard(wordsEnd, 200)
    if (pressedAt === undefined && replyStart !== undefined && call.nowMs > replyStart.playMs + 300) {
      pressedAt = call.nowMs
      call.sendDtmf('0')
    }
  }, 20)
  const result = await call.ended
  clearInterval(watcher)
  t.ok(pressedAt !== undefined, 'the caller pressed 0 during the reply')
  t.equal(result.transfer?.to, '1000', 'transferred to the operator')
  const stoppedAt = call.ear.lastHeardEndMs(pressedAt! + 5000, 200) ?? 0
  t.ok(stoppedAt < pressedAt! + 5000, `the reply stopped (${stoppedAt - pressedAt!} ms after the key), long before its end`)
  t.ok(rig.logs.some((l) => l.msg === 'operator key pressed'))
  t.equal(rig.store.calls[0]!.end?.outcome, 'transferred')
  await until(() => rig.fake.openConnections === 0)
  t.equal(rig.fake.openConnections, 0, 'the vendor socket was closed')
})

t.test('the operator key finds nobody: the caller hears so and the same session goes on', async (t) => {
  const rig = await startRealtimeRig(t, 'gemini', { transfers: { operator: { type: 'endpoint', dialString: 'user/1000' } } })
  rig.fake.caller('Va bene, grazie.').reply({ text: 'Arrivederci.', audioMs: 500, tools: [{ name: 'end_call', args: { reason: 'resolved' } }] })
  const call = new FakeFreeSwitch().placeCall({
    port: rig.port,
    destination: DID,
    callerNumber: CALLER,
    bridge: { outcome: 'fail', ringMs: 200, cause: 'USER_BUSY' },
    caller: { audio: [voice(3000, 800)], dtmf: [{ atMs: 600, digit: '0' }] },
  })
  const result = await call.ended
  t.equal(result.transfer, undefined, 'nobody took the call')
  t.equal(result.hungUpBy, 'server', 'the model ended the call afterwards')
  const agentTurns = rig.store.calls[0]!.turns.filter((x) => x.role === 'agent').map((x) => x.text)
  t.ok(agentTurns.includes('Mi dispiace, al momento nessuno può rispondere. Vuole lasciare un messaggio?'), 'the caller heard that nobody could answer')
  t.equal(agentTurns.at(-1), 'Arrivederci.', 'then the vendor answered on the same session')
  t.same(rig.store.calls[0]!.errors, [], 'no failure')
})

t.test('the vendor closing its socket while a transfer rings does not turn it into an apology', async (t) => {
  const rig = await startRealtimeRig(t, 'openai', { transfers: { operator: { type: 'extension', extension: '1000' }, sales: { type: 'endpoint', dialString: 'user/2000' } } })
  rig.fake.caller('Le vendite, per favore.').reply({ text: 'La passo alle vendite.', audioMs: 500, tools: [{ name: 'transfer_call', args: { target: 'sales' } }] })
  const call = new FakeFreeSwitch().placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, bridge: { outcome: 'answer', ringMs: 1500, durationMs: 500 }, caller: { audio: [voice(500, 800)] } })
  let closed = false
  const watcher = setInterval(() => {
    if (closed || !rig.logs.some((l) => l.msg === 'transferring call')) return
    closed = true
    for (const ws of rig.fake.sockets) ws.close(1011, 'idle')
  }, 20)
  await call.ended
  clearInterval(watcher)
  t.ok(closed, 'the vendor closed its socket during the transfer')
  const captured = rig.store.calls[0]!
  t.notOk(captured.turns.some((x) => x.text.startsWith('Mi scusi')), 'no apology')
  t.same(captured.errors, [], 'no failure recorded')
  t.equal(captured.end?.outcome, 'transferred')
})

/** The caller's line over the agent's long reply. */
const BARGE_MS = 900

/** Says a `ms` line at `atMs` (call timeline); returns when it ends. */
function say (call: SimulatedCall, atMs: number, ms: number, f0?: number): number {
  call.say(atMs, voice(0, ms, f0).wav)
  return atMs + ms
}

/**
 * The caller's side of the first test: a line once the greeting is over, a second once the
 * agent's reply to it has ended, then one over the long reply a second into it. Each is placed
 * by what the caller heard, not at a fixed point of the call: under load every reply comes
 * later. Resolves with when the line over the long reply began.
 */
async function twoTurnsThenBargeIn (call: SimulatedCall): Promise<number> {
  const first = say(call, await callerTurnMs(call) + 300, 900)
  await until(() => replyHeard(call, first) !== undefined && call.nowMs - (call.ear.lastHeardEndMs(Number.POSITIVE_INFINITY, 200) ?? 0) >= 800, 20_000)
  const second = say(call, call.nowMs + 20, 700)
  await until(() => { const start = replyHeard(call, second); return start !== undefined && call.nowMs > start + 1000 }, 20_000)
  const bargeAt = call.nowMs + 20
  say(call, bargeAt, BARGE_MS, 180)
  return bargeAt
}

/** When the agent's first audio after `fromMs` reached the caller. */
function replyHeard (call: SimulatedCall, fromMs: number): number | undefined {
  return call.ear.firstHeard(fromMs, 200)?.playMs
}

async function until (check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}
