import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as delay } from 'node:timers/promises'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { level } from '../../lib/simulator/ear.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { toneWav } from '../helpers/speaker.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))

/**
 * What FreeSWITCH still holds of our audio when the call hangs up is never written: the unicast
 * thread ends with the channel (measured on FreeSWITCH 1.11: 13 frames of a goodbye lost after a
 * 358 ms stall). The simulator writes them anyway (its ear keeps what reached it before the
 * hangup), so the check is on when each frame was written against the hangup's moment, both on
 * the call's timeline. A stall of the switch's unicast thread during the prompt (CallerEar.stall)
 * leaves 100 ms of lag at its end; the stream's close waits the last sound out before the runner
 * hangs up (lib/call/stream/session.ts playedOut). A caller who hangs up is not waited for:
 * stream-mode.spec.ts "hanging up mid-prompt" (no timer left behind).
 */
t.test('stream mode: the end of the last prompt is written before the hangup, even behind a stall\'s lag', async (t) => {
  const { port, soundsDir, agent } = await startTestAgent(t, {
    media: { mode: 'stream' },
    scripts: { verbs: { module: verbs } },
    // No hangup step: the script ends after the prompt and the runner hangs up.
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'play', file: 'bye.wav' }] } } },
  })
  await writeFile(join(soundsDir, 'bye.wav'), toneWav(1500))
  const baseline = resources()
  const call = new FakeFreeSwitch().placeCall({ port, destination: DID })
  // Once the prompt is heard, the switch's unicast thread stops for 100 ms.
  const deadline = Date.now() + 10_000
  let stalled = false
  while (!stalled && Date.now() < deadline) {
    const sound = call.ear.heard.filter((f) => f.source === 'unicast' && level(f.samples) > 0)
    const last = sound.at(-1)
    if (last !== undefined) {
      call.ear.stall(last.arrivalMs + 40, 100)
      stalled = true
    } else {
      await delay(5)
    }
  }
  const result = await call.ended
  t.ok(stalled, 'the prompt was heard and the stall placed in it')
  t.equal(result.hungUpBy, 'server')
  const hangupMs = result.events.find((e) => e.name === 'CHANNEL_HANGUP')?.atMs ?? Number.NaN
  const sound = result.heard.filter((f) => f.source === 'unicast' && level(f.samples) > 0)
  t.ok(sound.length >= 70, `the prompt reached the switch (${sound.length} frames of 75)`)
  const lastWritten = Math.max(...sound.map((f) => f.writtenMs))
  t.ok(lastWritten < hangupMs, `its last frame was written ${(hangupMs - lastWritten).toFixed(0)} ms before the hangup (without the wait it came after it: lost on a real switch)`)
  await agent.server.drained()
  t.same(await leaksSince(baseline), {}, 'the wait leaves no timer behind')
})

