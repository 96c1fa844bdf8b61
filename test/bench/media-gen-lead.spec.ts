import { execFileSync, spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildMediaGenerator, writeCallerSpeech } from '../../bench/load-media.ts'

const hasCc = ((): boolean => {
  try { execFileSync('cc', ['--version'], { stdio: 'ignore' }); return true } catch { return false }
})()

/**
 * A reply starts with its first frame and `leadFrames` more at once (call-pacer.ts startLane):
 * that burst is counted apart from pacing (media-gen.c BURST_NS), a burst later in the reply (a
 * late wake-up catching up) is pacing. What is asserted does not depend on timing: the two
 * frames of a burst are sent in one task, back to back on loopback.
 */
t.test('media-gen counts a reply\'s first frame and its lead apart from pacing, and a burst inside a reply as pacing', { skip: hasCc ? false : 'no C compiler (cc) on this machine' }, async (t) => {
  const binary = await buildMediaGenerator()
  if (binary === undefined) { t.fail('the generator was built'); return }
  const dir = await mkdtemp(join(tmpdir(), 'pa-media-gen-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const speech = join(dir, 'caller.raw')
  await writeCallerSpeech(speech, 1)

  const ours = dgram.createSocket('udp4')
  ours.bind(0, '127.0.0.1')
  await once(ours, 'listening')
  const firstFrame = once(ours, 'message')
  t.teardown(() => { ours.close() })

  const gen = spawn(binary, [speech], { stdio: ['pipe', 'pipe', 'ignore'] })
  t.teardown(() => { gen.kill() })
  const lines = createInterface({ input: gen.stdout })[Symbol.asyncIterator]()
  const ask = async (line: string, prefix: string): Promise<string> => {
    gen.stdin.write(`${line}\n`)
    for (;;) {
      const next = await lines.next()
      if (next.done === true) throw new Error('media-gen exited')
      if (next.value.startsWith(prefix)) return next.value
    }
  }
  const report = async (): Promise<Record<string, number>> => {
    const line = await ask('report', 'report ')
    return Object.fromEntries(line.split(' ').slice(1).map((kv) => kv.split('=')).map(([k, n]) => [k, Number(n)]))
  }
  const bound = await ask(`add 1 127.0.0.1 0 127.0.0.1 ${ours.address().port} 0`, 'bound 1 ')
  const port = Number(bound.split(' ')[2])
  gen.stdin.write('start 1 3\n')
  await firstFrame
  await ask('reset', 'ok reset')

  const silence = Buffer.alloc(320)
  const sound = Buffer.alloc(320)
  for (let i = 0; i < 160; i++) sound.writeInt16LE(i % 2 === 0 ? 1000 : -1000, i * 2)
  const send = (frame: Buffer): void => { ours.send(frame, port, '127.0.0.1') }
  const paced = async (frame: Buffer, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      await sleep(20)
      send(frame)
    }
  }
  await paced(silence, 3) // idle silence
  await sleep(20)
  send(sound) // the reply's first frame and its lead, in one task
  send(sound)
  await paced(sound, 5)
  await sleep(50) // read before the report is asked (the generator reads once a 1 ms tick)
  const reply = await report()
  t.equal(reply.starts, 1, 'the reply\'s first frame is counted as a start')
  t.equal(reply.leads, 1, 'the frame sent with it is its lead')
  t.ok((reply.all_max_ms ?? 0) >= 19, `counted in, the lead is a 20 ms deviation (all max ${reply.all_max_ms} ms)`)
  // (A loaded machine may hold a silence back past the gap bound: then it is a gap, not pacing.)
  t.equal((reply.intervals ?? 0) + (reply.gaps ?? 0), 7, `pacing keeps the other intervals: 2 between the silences, 5 in the reply (${reply.intervals} + ${reply.gaps} gaps)`)

  send(sound) // a burst inside the reply: a late wake-up catching up
  send(sound)
  await sleep(50)
  const burst = await report()
  t.equal(burst.leads, 1, 'no second lead')
  t.ok((burst.dev_max_ms ?? 0) >= 19, `a burst inside a reply is pacing (max ${burst.dev_max_ms} ms)`)
  gen.stdin.end()
})
