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
 * 358 ms stall), and the simulator's ear drops them too (CallerEar.hangUpAt); the check is also
 * on when each frame was written against the hangup's moment, both on the call's timeline. A stall of the switch's unicast thread during the prompt (CallerEar.stall)
 * leaves 100 ms of lag at its end; the stream's close waits the last sound out before the runner
 * hangs up (lib/call/stream/session.ts playedOut). A caller who hangs up is not waited for:
 * stream-mode.spec.ts "hanging up mid-prompt" (no timer left behind).
 */
for (const ending of ['the script ends', 'the hangup verb'] as const) {
  t.test(`stream mode: the end of the last prompt is written before the hangup, even behind a stall's lag (${ending})`, async (t) => {
    const steps: Array<Record<string, unknown>> = [{ verb: 'answer' }, { verb: 'play', file: 'bye.wav' }]
    // Without a hangup step the runner hangs up after the script; with one, the verb does (and
    // so do a conversation's goodbye and a realtime call's end, through the same verb).
    if (ending === 'the hangup verb') steps.push({ verb: 'hangup' })
    const { port, soundsDir, agent } = await startTestAgent(t, {
      media: { mode: 'stream' },
      scripts: { verbs: { module: verbs } },
      routes: { [DID]: { script: 'verbs', options: { steps } } },
    })
    await writeFile(join(soundsDir, 'bye.wav'), toneWav(1500))
    const baseline = resources()
    const call = new FakeFreeSwitch().placeCall({ port, destination: DID })
    // Near the end of the prompt, the switch's unicast thread stops for 100 ms.
    const deadline = Date.now() + 10_000
    let stalled = false
    while (!stalled && Date.now() < deadline) {
      const sound = call.ear.heard.filter((f) => f.source === 'unicast' && level(f.samples) > 0)
      const last = sound.at(-1)
      // Near the prompt's end (75 frames), so the lag is still there when it ends.
      if (last !== undefined && sound.length >= 60) {
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
    t.equal(sound.length, 75, 'the caller heard all of the prompt, its end too (FreeSWITCH drops what it still holds at the hangup)')
    const lastWritten = Math.max(...sound.map((f) => f.writtenMs))
    t.ok(lastWritten < hangupMs, `its last frame was written ${(hangupMs - lastWritten).toFixed(0)} ms before the hangup (without the wait it came after it: lost on a real switch)`)
    await agent.server.drained()
    t.same(await leaksSince(baseline), {}, 'the wait leaves no timer behind')
  })
}

