import t, { type Test } from 'tap'
import { PhoneAgentError } from '../../lib/errors.ts'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { CHAT, DID, STT, placeHeardCall, reply, speech, startRig, transcript } from './helpers.ts'

const APOLOGY = 'Mi scusi, ho un problema tecnico. La metto in contatto con un collega.'

// 2025-06-04 is a Wednesday; 10:00 and 22:00 in Rome (UTC+2 in June).
const DAY = (): Date => new Date('2025-06-04T08:00:00Z')
const NIGHT = (): Date => new Date('2025-06-04T20:00:00Z')
const HOURS = { timezone: 'Europe/Rome', weekly: { mon: ['09:00-18:00'], tue: ['09:00-18:00'], wed: ['09:00-18:00'], thu: ['09:00-18:00'], fri: ['09:00-18:00'] } }

async function fallbackCall (t: Test, rig: Awaited<ReturnType<typeof startRig>>) {
  const result = await placeHeardCall({ port: rig.port, destination: DID, callerNumber: '+393331112222', caller: { audio: [speech(400)] } }).ended
  const call = rig.store.calls.at(-1)!
  const apology = result.played.find((p) => p.path.includes('/agent/'))
  t.ok(apology, 'the pre-rendered apology was played from sounds/agent/')
  t.equal(call.turns.find((x) => x.text === APOLOGY)?.role, 'agent', 'the apology is in the transcript')
  return { result, call }
}

t.test('STT failure: apology, then the human by day', async (t) => {
  const rig = await startRig(t, { agent: { businessHours: HOURS }, now: DAY })
  rig.fake.reply(STT, { kind: 'json', status: 500, body: { error: { message: 'boom', type: 'server_error' } } })
  const { result, call } = await fallbackCall(t, rig)
  t.equal(result.transfer?.to, '1000', 'to the operator')
  t.equal(call.end?.outcome, 'transferred')
  t.match(call.errors, [{ code: 'PROVIDER_UNAVAILABLE', provider: 'whisper' }])
  await rig.settled(t)
})

t.test('LLM never answers: the first-token deadline, apology, voicemail at night', async (t) => {
  // The provider's own timeout (60 s) is far beyond anything the call should wait for.
  const rig = await startRig(t, { agent: { businessHours: HOURS, deadlines: { turnMs: 5000, llmFirstTokenMs: 800, noInputMs: 3000 } }, now: NIGHT, llmTimeoutMs: 60_000 })
  rig.fake.reply(STT, transcript('Pronto?'))
  rig.fake.reply(CHAT, { kind: 'hang' })
  const started = Date.now()
  const { result, call } = await fallbackCall(t, rig)
  t.equal(result.transfer?.to, 'vm-1000', 'out of hours the fallback is voicemail')
  t.equal(call.end?.outcome, 'voicemail')
  t.match(call.errors, [{ code: 'PROVIDER_TIMEOUT', provider: 'openai' }])
  t.ok(Date.now() - started < 60_000, 'the call did not wait for the provider\'s own timeout')
  await rig.settled(t)
})

t.test('LLM stalls mid-reply: the turn deadline ends the dead air', async (t) => {
  const rig = await startRig(t, { agent: { deadlines: { turnMs: 1000, llmFirstTokenMs: 800, noInputMs: 3000 } } })
  rig.fake.reply(STT, transcript('Pronto?'))
  // The first piece arrives at once, the rest 3 s later: no sentence is ever complete in time.
  rig.fake.reply(CHAT, reply(['Allora', ', vediamo un attimo.'], { delayMs: 3000 }))
  const { result, call } = await fallbackCall(t, rig)
  t.equal(result.transfer?.to, '1000')
  t.match(call.errors, [{ code: 'PROVIDER_TIMEOUT', provider: 'deadline' }])
  await rig.settled(t)
})

t.test('TTS fails mid-call: the apology still plays (pre-rendered) and the human takes over', async (t) => {
  let broken = false
  const rig = await startRig(t, {
    wrapSpeaker: (s) => ({
      render: async (text, o) => {
        if (broken) throw new PhoneAgentError('PROVIDER_UNAVAILABLE', 'tts down')
        return await s.render(text, o)
      },
    }),
  })
  rig.fake.reply(STT, transcript('Pronto?'))
  rig.fake.reply(CHAT, reply('Buongiorno a lei.'))
  broken = true
  const { result, call } = await fallbackCall(t, rig)
  t.equal(result.transfer?.to, '1000')
  t.match(call.errors, [{ code: 'PROVIDER_UNAVAILABLE', provider: 'tts' }])
  t.ok(result.played.every((p) => p.path.includes('/agent/')), 'only pre-rendered phrases could play')
  await rig.settled(t)
})

t.test('the fallback rings the human\'s endpoint; nobody answers, the caller hears the goodbye and we hang up', async (t) => {
  const rig = await startRig(t, {
    transfers: { operator: { type: 'endpoint', dialString: 'user/1000' } },
    agent: { transfers: { human: 'operator' } },
  })
  rig.fake.reply(STT, { kind: 'json', status: 500, body: { error: { message: 'boom' } } })
  const result = await placeHeardCall({ port: rig.port, destination: DID, caller: { audio: [speech(400)] }, bridge: { outcome: 'fail', cause: 'NO_ANSWER' } }).ended
  const names = result.apps.map((a) => a.name)
  t.ok(names.includes('bridge'), 'the human was tried')
  t.ok(names.indexOf('set') < names.indexOf('bridge'), 'continue_on_fail is set first, so the failed bridge does not drop the caller')
  t.equal(names.at(-1), 'playback', 'the goodbye was played after the bridge')
  t.equal(result.hungUpBy, 'server')
  t.equal(rig.store.calls[0]?.end?.outcome, 'completed')
  await rig.settled(t)
})

t.test('no input: reprompt, then goodbye and hangup', async (t) => {
  const rig = await startRig(t, { agent: { reprompts: { max: 1 }, deadlines: { noInputMs: 1500, turnMs: 4000, llmFirstTokenMs: 3000, ttsFirstAudioMs: 3000 } } })
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port: rig.port, destination: DID }).ended
  const call = rig.store.calls[0]!
  t.same(call.turns.map((x) => x.text), ['Buongiorno, come posso aiutarla?', 'È ancora in linea?', 'Grazie per aver chiamato. Arrivederci.'])
  t.equal(result.hungUpBy, 'server')
  t.equal(call.end?.outcome, 'completed')
  t.equal(rig.fake.requests.length, 0, 'silence is never sent to STT')
  await rig.settled(t)
})

t.test('maximum call duration: the goodbye comes between turns, once the limit has passed', async (t) => {
  const rig = await startRig(t, { agentOverrides: { maxCallSeconds: 3 } })
  rig.fake.reply(STT, transcript('Vorrei un\'informazione.'))
  rig.fake.reply(CHAT, reply('Certo, mi dica pure.'))
  const result = await placeHeardCall({ port: rig.port, destination: DID, caller: { audio: [speech(300, 600)] } }).ended
  const call = rig.store.calls[0]!
  t.equal(call.turns.at(-1)?.text, 'Grazie per aver chiamato. Arrivederci.', 'the goodbye is the last thing said')
  t.equal(result.hungUpBy, 'server')
  t.ok(result.endedAtMs >= 3000, `not before the limit (${result.endedAtMs} ms)`)
  // Soon after it, as an order: the caller's silence alone would have brought two reprompts
  // (3 s of no input each) before the goodbye; the limit stops it at the next turn boundary.
  const reprompts = call.turns.filter((x) => x.text === 'È ancora in linea?').length
  t.ok(reprompts < 2, `the goodbye came before the reprompts ran out (${reprompts} reprompt)`)
  await rig.settled(t)
})

t.test('DTMF 0 reaches the operator while the reply is playing; the transcript marks it interrupted', async (t) => {
  const rig = await startRig(t)
  rig.fake.reply(STT, transcript('Mi racconti tutto.'))
  rig.fake.reply(CHAT, reply('Questa è una frase molto lunga che serve solo a tenere occupata la linea per parecchio tempo mentre il chiamante decide di premere lo zero. E poi ne segue un\'altra.'))
  const sim = placeHeardCall({ port: rig.port, destination: DID, caller: { audio: [speech(400)] } })
  // Press 0 once the long sentence has started playing.
  const timer = setInterval(() => {
    if (sim.result.played.length >= 2) { clearInterval(timer); sim.sendDtmf('0') }
  }, 20)
  const result = await sim.ended
  clearInterval(timer)
  t.equal(result.transfer?.to, '1000', 'to the operator')
  t.equal(result.played[1]?.status, 'break', 'the key cut the playback (playback_terminators)')
  const call = rig.store.calls[0]!
  t.match(call.turns.at(-1), { role: 'agent', text: '', interrupted: true }, 'the cut reply is recorded as interrupted, with nothing heard')
  t.equal(call.end?.outcome, 'transferred')
  await rig.settled(t)
})
