import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { toneWav } from '../helpers/speaker.ts'

// origination_uuid may give a channel an upper-case UUID, and FreeSWITCH finds sessions by the
// exact string: commands must name the channel as FreeSWITCH spelled it.
const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))

t.test('a channel with an upper-case UUID is driven by its own spelling', async (t) => {
  const { port, soundsDir } = await startTestAgent(t, {
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'play', file: 'short.wav' }, { verb: 'hangup' }] } } },
  })
  await writeFile(join(soundsDir, 'short.wav'), toneWav(300))
  const uuid = 'ABCDEF01-2345-4678-9ABC-DEF012345678'
  const r = await new FakeFreeSwitch().placeCall({ port, destination: DID, callerNumber: '+393331234567', uuid }).ended
  t.ok(r.answered, 'answered: sendmsg found the session')
  t.same(r.apps.map((a) => a.name).filter((n) => n === 'answer' || n === 'playback'), ['answer', 'playback'])
  t.equal(r.hungUpBy, 'server', 'hung up by our hangup command')
})
