import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav, parseWav } from '../../lib/media/wav.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { leaksSince, resources } from '../helpers/leaks.ts'
import { speechLike } from '../media-stream/signals.ts'

/**
 * Stream mode on a call whose packet time is not 20 ms. On a real FreeSWITCH a ptime-30 call
 * played each of our 20 ms datagrams as one 30 ms packet holding only its second half, one per
 * 30 ms, the rest queued for seconds and dropped (helper 15a, docs/freeswitch-pack.md "Packet
 * time"); the simulator plays them the same way (test/simulator/ptime.spec.ts). The agent sends
 * its speech in packets of the call's size (lib/media/stream/packet-regroup.ts).
 */

const DID = '+390212345678'
const verbs = fileURLToPath(new URL('../fixtures/scripts/verbs.ts', import.meta.url))
/** 1.2 s of 10 ms steps, each its own level: what the caller heard can be read step by step. */
const STEPS = 120
const stepLevel = (k: number): number => (k % 2 === 0 ? 1 : -1) * (1000 + 97 * k)
const stairs = Int16Array.from({ length: STEPS * 80 }, (_, i) => stepLevel(Math.floor(i / 80)))

for (const ptimeMs of [30, 20]) {
  t.test(`ptime ${ptimeMs}: a file played in stream mode reaches the caller whole, in order, in real time`, async (t) => {
    const { port, soundsDir, agent } = await startTestAgent(t, {
      media: { mode: 'stream' },
      scripts: { verbs: { module: verbs } },
      routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'play', file: 'stairs.wav' }, { verb: 'hangup' }] } } },
    })
    await writeFile(join(soundsDir, 'stairs.wav'), encodeWav({ sampleRate: 8000, channels: 1, samples: stairs }))
    const baseline = resources()
    const result = await new FakeFreeSwitch().placeCall({ port, destination: DID, ptimeMs }).ended
    const heard = result.heard.filter((h) => h.source === 'unicast')
    t.ok(heard.every((h) => h.samples.length === ptimeMs * 8), `every packet ${ptimeMs} ms`)
    const audio = heard.flatMap((h) => Array.from(h.samples))
    const start = audio.indexOf(stepLevel(0))
    t.ok(start >= 0, 'the file was heard')
    t.same(audio.slice(start, start + stairs.length), Array.from(stairs), 'every sample, in order, nothing else between')
    const loud = heard.filter((h) => h.samples.some((s) => Math.abs(s) >= 1000))
    // Stretched is more packets than the audio fills (the real switch's ptime-30 fault: each of
    // our 20 ms datagrams one 30 ms packet, 1.8 s), or packets sent on the wrong clock. A pause
    // of our sending under load only leaves a gap between packets: a CI run of the whole suite
    // took 1460 ms over 1.2 s at ptime 20, so the wall-clock span has room up to the fault's 1.5x.
    t.ok(loud.length * ptimeMs >= 1200 && loud.length * ptimeMs <= 1200 + 2 * ptimeMs, `${loud.length} packets of ${ptimeMs} ms: 1.2 s of audio, not stretched`)
    const spanMs = (loud.at(-1)?.playMs ?? 0) + ptimeMs - (loud[0]?.playMs ?? 0)
    t.ok(spanMs >= 1200 && spanMs < 1200 * 1.5, `played in ${spanMs} ms, under 1.5 times the audio's 1.2 s`)
    await agent.server.drained()
    t.same(await leaksSince(baseline), {})
  })
}

t.test('ptime 30: the caller\'s speech is taken in 30 ms packets: a message is recorded whole', async (t) => {
  const { port, logs } = await startTestAgent(t, {
    media: { mode: 'stream' },
    scripts: { verbs: { module: verbs } },
    routes: { [DID]: { script: 'verbs', options: { steps: [{ verb: 'answer' }, { verb: 'record', maxSeconds: 10 }, { verb: 'hangup' }] } } },
  })
  const speech = encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 1.2, -20) })
  await new FakeFreeSwitch().placeCall({ port, destination: DID, ptimeMs: 30, caller: { audio: [{ atMs: 500, wav: speech }] } }).ended
  const rec = logs.find((l) => l.msg === 'record result')
  t.type(rec?.recorded, 'string', 'a recording was written')
  const wav = parseWav(await readFile(rec!.recorded as string))
  const seconds = wav.samples.length / wav.sampleRate
  t.ok(seconds > 1.2 && seconds < 4, `it holds the 1.2 s of speech and ends ~1 s after it (${seconds.toFixed(2)} s)`)
  t.match(logs.find((l) => /ms packets \(its ptime\)/.test(String(l.msg))), { frameMs: 30 }, 'said once in the log')
})
