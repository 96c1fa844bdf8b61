import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { CALLER, CHAT, DID, STT, chatRequests, reply, speech, startRig, transcript, placeHeardCall } from './helpers.ts'

const MARCO = [{ number: CALLER, name: 'Marco', company: 'Rossi Srl', language: 'it-IT', vip: true, notes: 'Prefers mornings' }]

t.test('a known caller is greeted by name, asks for sales, and is transferred after the reply is heard', async (t) => {
  const baseline = resources()
  const rig = await startRig(t, { contacts: MARCO })
  rig.fake.reply(STT, transcript('Buongiorno, vorrei parlare con l\'ufficio vendite.'))
  rig.fake.reply(CHAT, reply(['Certamente, Marco. ', 'La metto in contatto ', 'con l\'ufficio vendite.'], { tools: [{ name: 'transfer_call', args: { target: 'sales' } }] }))
  const result = await placeHeardCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [speech(400)] } }).ended

  const texts = rig.speaker.requests.map((r) => r.text)
  t.ok(texts.includes('Buongiorno Marco, come posso aiutarla?'), 'personal greeting in the contact\'s language')
  t.equal(result.transfer?.to, '2000', 'transferred to the sales extension')
  const played = result.played.map((p) => p.path)
  t.equal(played.length, 3, 'greeting and the two spoken sentences')
  t.ok(texts.includes('Certamente, Marco.') && texts.includes('La metto in contatto con l\'ufficio vendite.'), 'the reply was split into sentences for TTS')
  const names = result.apps.map((a) => a.name)
  t.same(names.slice(0, 3), ['answer', 'set', 'playback'])
  t.equal(names.at(-1), 'transfer', 'the transfer comes after the reply was played')

  const [request] = chatRequests(rig.fake)
  const system = request?.messages[0]?.content ?? ''
  t.match(system, /name: Marco; company: Rossi Srl; VIP: yes; notes: Prefers mornings/, 'the contact profile is in the prompt')
  t.match(system, /Caller ID: \+393331234567/)
  t.same(request?.messages.slice(1).map((m) => m.role), ['assistant', 'user'], 'greeting then the caller\'s words')
  t.equal(request?.messages.at(-1)?.content, 'Buongiorno, vorrei parlare con l\'ufficio vendite.')
  t.same(request?.tools?.map((d) => d.function.name), ['transfer_call', 'end_call', 'take_message', 'lookup_contact'])
  t.same(request?.tools?.[0]?.function.parameters.properties.target?.enum, ['operator', 'sales', 'voicemail'])

  const call = rig.store.calls[0]!
  t.equal(call.end?.outcome, 'transferred')
  t.same(call.contacts, ['Marco'])
  t.same(call.turns.map((x) => [x.role, x.text]), [
    ['agent', 'Buongiorno Marco, come posso aiutarla?'],
    ['caller', 'Buongiorno, vorrei parlare con l\'ufficio vendite.'],
    ['agent', 'Certamente, Marco. La metto in contatto con l\'ufficio vendite.'],
  ])
  const latency = call.latency[0]!
  t.equal(latency.turn, 1)
  for (const mark of ['speechEndAt', 'sttFinalAt', 'llmFirstTokenAt', 'firstSentenceAt', 'ttsAudioAt', 'firstFrameAt'] as const) {
    t.type(latency[mark], 'number', `latency mark ${mark}`)
  }
  t.ok(latency.speechEndAt! <= latency.sttFinalAt! && latency.sttFinalAt! <= latency.llmFirstTokenAt! &&
    latency.llmFirstTokenAt! <= latency.firstSentenceAt! && latency.firstSentenceAt! <= latency.firstFrameAt!, 'the waterfall is in order')
  const llmUsage = call.usage.find((u) => u.llmInputTokens !== undefined)
  t.equal(llmUsage?.llmInputTokens, 100)
  t.equal(llmUsage?.llmOutputTokens, 20)
  t.ok(call.usage.some((u) => (u.sttSeconds ?? 0) > 0.5), 'seconds of audio sent to STT')
  await rig.settled(t)
  t.same(await leaksSince(baseline, ['Timeout']), {}, 'no timers left')
})

t.test('tools in rounds: lookup, take_message, end_call; the goodbye is said when the model said nothing', async (t) => {
  const rig = await startRig(t)
  rig.fake.reply(STT, transcript('Sono Luca Bianchi, richiamatemi al 333 765 4321, devo parlare del preventivo.'))
  rig.fake.reply(CHAT,
    reply('', { tools: [{ name: 'lookup_contact', args: { number: '+393331234567' } }] }),
    reply('Ho preso nota.', { tools: [{ name: 'take_message', args: { name: 'Luca Bianchi', number: '333 765 4321', message: 'Preventivo' } }] }),
    reply('', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  rig.fake.reply(STT, transcript('No, grazie.'))
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port: rig.port, destination: DID, callerNumber: '+393339999999', caller: { audio: [speech(400), speech(5000)] } }).ended
  t.equal(result.hungUpBy, 'server')
  const requests = chatRequests(rig.fake)
  t.equal(requests.length, 3, 'one request per round')
  const second = requests[1]!.messages
  t.same(second.slice(-2).map((m) => m.role), ['assistant', 'tool'], 'the tool call and its result go back to the model')
  t.same(JSON.parse(second.at(-1)!.content!), { found: false })
  const third = requests[2]!.messages
  t.same(JSON.parse(third.at(-1)!.content!), { ok: true, stored: true })
  const call = rig.store.calls[0]!
  t.same(call.messages.map((m) => [m.name, m.number, m.text]), [['Luca Bianchi', '+393337654321', 'Preventivo']], 'the message is stored with an E.164 number')
  t.equal(call.end?.outcome, 'message_taken')
  const texts = rig.speaker.requests.map((r) => r.text)
  t.ok(texts.includes('Ho preso nota.'))
  t.equal(result.played.length, 3, 'greeting, the note, the goodbye')
  t.equal(call.turns.at(-1)?.text, 'Grazie per aver chiamato. Arrivederci.', 'the goodbye is the last thing said')
  t.equal(rig.fake.requests.filter((r) => r.path === STT).length, 1, 'the call ended before listening again')
  await rig.settled(t)
})
