import { execFileSync, spawn } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Test } from 'tap'
import { buildMediaGenerator, writeCallerSpeech } from '../../bench/load-media.ts'

/** Why a media-gen spec is skipped (no C compiler), or false. */
export const noCompiler: string | false = ((): string | false => {
  try { execFileSync('cc', ['--version'], { stdio: 'ignore' }); return false } catch { return 'no C compiler (cc) on this machine' }
})()

export interface GeneratorHarness {
  /** Send one of "our" datagrams to the generator's socket for call 1. */
  readonly send: (frame: Buffer) => void
  /** The window's figures since the last reset (media-gen.c cmd_report). */
  readonly report: () => Promise<Record<string, number>>
}

/**
 * bench/native/media-gen.c with one call whose other end is a socket of the test's: the call is
 * started, its first frame has come in (the generator reads and times what we send), and a
 * measuring window was reset. Everything is torn down with the test.
 */
export async function startGenerator (t: Test): Promise<GeneratorHarness | undefined> {
  const binary = await buildMediaGenerator()
  if (binary === undefined) { t.fail('the generator was built'); return undefined }
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
  t.teardown(() => { gen.stdin.end(); gen.kill() })
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
  return {
    send: (frame) => { ours.send(frame, port, '127.0.0.1') },
    report: async () => {
      const line = await ask('report', 'report ')
      return Object.fromEntries(line.split(' ').slice(1).map((kv) => kv.split('=')).map(([k, n]) => [k, Number(n)]))
    },
  }
}

/** A 20 ms L16 frame of silence, and one of sound. */
export const SILENCE = Buffer.alloc(320)
export const SOUND = Buffer.alloc(320)
for (let i = 0; i < 160; i++) SOUND.writeInt16LE(i % 2 === 0 ? 1000 : -1000, i * 2)
