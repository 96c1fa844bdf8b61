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
 * The generator's pacing figure leaves out the gaps of a quiet call (a keep-alive second, silence
 * at either end) and keeps every interval between two frames of sound. The bounds are generous:
 * the long silence is 1.5 s, the pause between sounds 0.3 s, and a loaded machine only adds to
 * either.
 */
t.test('media-gen counts a silent gap apart from pacing, and a pause between two frames of sound as pacing', { skip: hasCc ? false : 'no C compiler (cc) on this machine' }, async (t) => {
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
  const bound = await ask(`add 1 127.0.0.1 0 127.0.0.1 ${ours.address().port} 0`, 'bound 1 ')
  const port = Number(bound.split(' ')[2])
  gen.stdin.write('start 1 3\n')
  await firstFrame // its park loop runs: what we send is read and timed
  await ask('reset', 'ok reset')

  const silence = Buffer.alloc(320)
  const sound = Buffer.alloc(320)
  for (let i = 0; i < 160; i++) sound.writeInt16LE(i % 2 === 0 ? 1000 : -1000, i * 2)
  const send = async (frame: Buffer, n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      ours.send(frame, port, '127.0.0.1')
      await sleep(20)
    }
  }
  await send(silence, 5)
  await sleep(1500) // a cold call's keep-alive gap
  await send(silence, 3)
  await send(sound, 3)
  await sleep(300) // a reply's audio late by 300 ms
  await send(sound, 3)
  await sleep(100)
  const report = await ask('report', 'report ')
  const v = Object.fromEntries(report.split(' ').slice(1).map((kv) => kv.split('=')).map(([k, n]) => [k, Number(n)]))
  t.ok((v.gaps ?? 0) >= 1, `the silent 1.5 s is counted as a gap (${v.gaps})`)
  t.ok((v.dev_max_ms ?? 0) >= 250, `the 0.3 s between two frames of sound is pacing (max ${v.dev_max_ms} ms)`)
  t.ok((v.dev_max_ms ?? Infinity) < 1000, `the silent gap is not (max ${v.dev_max_ms} ms)`)
  t.ok((v.intervals ?? 0) >= 10, `the other intervals are pacing (${v.intervals})`)
  gen.stdin.end()
})
