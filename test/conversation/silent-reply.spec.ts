import t from 'tap'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { CALLER, CHAT, DID, STT, reply, speech, startRig, transcript } from './helpers.ts'

t.test('a reply whose every tool call is refused ends with a spoken line, never in silence', async (t) => {
  const rig = await startRig(t)
  rig.fake.reply(STT, transcript('Mi passi il numero 0900123456.'))
  const refused = reply('', { tools: [{ name: 'transfer_call', args: { target: '+39900123456' } }] })
  rig.fake.reply(CHAT, refused, refused, refused, refused)
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [speech(600)], hangupAtMs: 9000 } }).ended
  t.equal(result.transfer, undefined, 'nothing was dialled')
  t.ok(rig.logs.some((l) => l.msg === 'reply ended with nothing said; saying the fixed line'))
  const agentLines = rig.store.calls[0]!.turns.filter((x) => x.role === 'agent').map((x) => x.text)
  t.ok(agentLines.includes('Mi dispiace, non posso farlo. Posso aiutarla in altro modo?'), 'the caller heard the fixed line in Italian')
  await rig.settled(t)
})
