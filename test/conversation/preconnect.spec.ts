import t from 'tap'
import type { Speaker } from '../../lib/call/context.ts'
import { closeProviderConnections } from '../../lib/providers/openai-client.ts'
import { CALLER, CHAT, DID, STT, reply, speech, startRig, transcript, placeHeardCall } from './helpers.ts'

/**
 * A conversation opens its providers' connections before the reply needs them: when the call
 * starts and when a turn begins listening. After a quiet spell the pool has none (it keeps one
 * 30 s), and the first reply paid a TCP (and TLS) handshake per provider.
 */
t.test('the providers are pre-connected at the call\'s start and each listen; the requests use those connections', async (t) => {
  // A process that has been quiet for longer than the pool's keep-alive: no connection open.
  await closeProviderConnections()
  t.teardown(closeProviderConnections)
  let preconnects = 0
  const spy = (speaker: Speaker): Speaker => ({
    render: async (text, options) => await speaker.render(text, options),
    preconnect: () => { preconnects++ },
  })
  const rig = await startRig(t, { wrapSpeaker: spy, keepAlive: true })
  rig.fake.reply(STT, transcript('Vorrei un appuntamento.'))
  rig.fake.reply(CHAT, reply('Certo.', { tools: [{ name: 'end_call', args: { reason: 'resolved' } }] }))
  const call = placeHeardCall({ port: rig.port, destination: DID, callerNumber: CALLER, caller: { audio: [speech(500)] } })
  await call.ended
  t.equal(rig.fake.requests.filter((r) => r.path === STT || r.path === CHAT).length, 2)
  t.equal(preconnects, 2, 'the speech provider: at the call\'s start and when the turn began listening')
  t.equal(rig.fake.connectionsAccepted, 2, 'two connections opened ahead (the requests, one after the other, would have used one)')
  t.ok(rig.fake.requests.every((r) => r.connection === 1 || r.connection === 2), 'every request on one of them')
  await rig.settled(t)
})
