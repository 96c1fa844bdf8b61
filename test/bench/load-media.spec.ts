import { execFileSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { buildMediaGenerator, NativeMedia, writeCallerSpeech } from '../../bench/load-media.ts'
import { speechLike } from '../../bench/capacity-fixture.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { startTestAgent } from '../helpers/agent.ts'

const hasCc = ((): boolean => {
  try { execFileSync('cc', ['--version'], { stdio: 'ignore' }); return true } catch { return false }
})()

const DID = '+390212345678'

t.test('the native media generator carries two simulated calls: caller frames in, our frames out', { skip: hasCc ? false : 'no C compiler (cc) on this machine' }, async (t) => {
  const binary = await buildMediaGenerator()
  t.ok(binary, 'the generator was built')
  if (binary === undefined) return
  const dir = await mkdtemp(join(tmpdir(), 'pa-load-media-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const speechPath = join(dir, 'caller.raw')
  await writeCallerSpeech(speechPath, 2)
  const media = await NativeMedia.start({ binary, speechPath, cycleMs: 1000, talkPercent: 50 })
  t.teardown(async () => { await media.close() })
  await media.talk(true)

  const { port, soundsDir } = await startTestAgent(t, {
    media: { mode: 'stream' },
    routes: { [DID]: { script: 'capacity', options: { file: 'prompt.wav' } } },
    scripts: { capacity: { module: fileURLToPath(new URL('../../bench/capacity-script.ts', import.meta.url)) } },
  })
  await writeFile(join(soundsDir, 'prompt.wav'), encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 5) }))

  const fs = new FakeFreeSwitch()
  t.teardown(async () => { await fs.close() })
  const calls = [0, 1].map((n) => fs.placeCall({
    port,
    destination: DID,
    callerNumber: `+39333123456${n}`,
    unicastEngine: media,
    caller: { hangupAtMs: 3000 },
  }))
  const results = await Promise.all(calls.map(async (c) => await c.ended))
  for (const [i, result] of results.entries()) {
    const link = result.unicast[0]
    t.ok(link, `call ${i} set up unicast`)
    if (link === undefined) continue
    t.equal(link.failed, undefined, `call ${i}: the generator bound FreeSWITCH's socket`)
    t.ok(link.boundPort !== undefined && link.boundPort > 0, `call ${i}: a bound port was reported`)
    t.equal(link.cngFramesSent, 3, `call ${i}: the stream started with three 0xFF frames`)
    t.ok(link.framesSent > link.cngFramesSent, `call ${i}: the caller's frames went to the server (${link.framesSent})`)
    t.ok(link.datagramsReceived > 0, `call ${i}: the server's frames reached the generator (${link.datagramsReceived})`)
    // The caller's hangup ends the park loop, which deactivates unicast (switch_ivr_park's exit).
    t.ok(link.closedBy === 'unpark' || link.closedBy === 'call-ended', `call ${i}: the connection closed with the call (${link.closedBy})`)
  }
  t.equal(media.flowed, 2, 'both calls reported flowing audio from the server')
  t.equal(media.flowing.size, 0, 'and none is counted as flowing once it closed')
  const report = await media.report()
  t.ok(report.sent > 0 && report.received > 0, 'the window report counts frames both ways')
  t.ok(report.cpuMs >= 0, 'the generator reports its own CPU time')
  t.ok(Number.isInteger(report.gaps) && report.gaps >= 0 && report.gaps <= report.intervals + report.gaps, `the report counts the gaps left out of pacing apart (${report.gaps})`)
  t.equal((await media.callCounts()).size, 0, 'no connection is left open in the generator')
})

/** A generator on its own, and a call of it that FreeSWITCH (the generator) binds at `localPort` (0: any) and nobody sends to. */
async function lonelyGenerator (t: Test): Promise<{ media: NativeMedia, activate: (localPort: number) => ReturnType<NativeMedia['activate']> } | undefined> {
  const binary = await buildMediaGenerator()
  if (binary === undefined) return undefined
  const dir = await mkdtemp(join(tmpdir(), 'pa-load-media-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const speechPath = join(dir, 'caller.raw')
  await writeCallerSpeech(speechPath, 1)
  const media = await NativeMedia.start({ binary, speechPath })
  t.teardown(async () => { await media.close() })
  const hooks = { now: () => 0, write: () => {}, sendFailed: () => {}, log: undefined }
  return { media, activate: async (localPort) => await media.activate({ localIp: '127.0.0.1', localPort, remoteIp: '127.0.0.1', remotePort: 9, transport: 'udp', native: false }, hooks, 3) }
}

t.test('a call that never got a datagram of ours is named, with FreeSWITCH\'s port, for the server log', { skip: hasCc ? false : 'no C compiler (cc) on this machine' }, async (t) => {
  const gen = await lonelyGenerator(t)
  if (gen === undefined) return
  t.same(gen.media.neverFlowed(), [], 'no call, none to name')
  const { record, link } = await gen.activate(0)
  t.ok(link !== undefined && record.boundPort !== undefined, 'the generator bound the call\'s socket')
  t.same(gen.media.neverFlowed(), [`call 1: FreeSWITCH port ${record.boundPort} -> 127.0.0.1:9, park loop not started, open`])
})

t.test('a call whose port FreeSWITCH could not bind is named first: it can never stream', { skip: hasCc ? false : 'no C compiler (cc) on this machine' }, async (t) => {
  const gen = await lonelyGenerator(t)
  if (gen === undefined) return
  const port = (await gen.activate(0)).record.boundPort ?? 0
  // Two calls told the same local-port: FreeSWITCH binds it for one only.
  const second = await gen.activate(port)
  t.equal(second.link, undefined, 'the second could not bind')
  const named = gen.media.neverFlowed()
  t.match(named[0] ?? '', new RegExp(`^Failure creating unicast connection 127\\.0\\.0\\.1:${port}->`), 'the failed one first')
  t.match(named[1] ?? '', /^call 1: FreeSWITCH port \d+ -> 127\.0\.0\.1:9, park loop not started, open$/, 'then the one that bound and got nothing')
})
