import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseWav } from '../../lib/media/wav.ts'

const bin = fileURLToPath(new URL('../../bin/phone-agent.js', import.meta.url))

t.test('the quick-start demo: a simulated caller leaves a message, offline, with no config', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'pa-demo-'))
  // The caller's words are given to keep the call short; the demo's own are the same kind of line.
  const child = spawn(process.execPath, [bin, 'demo', '--say', 'Hello, this is Mario Rossi. Please call me back.'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  // The signal too: the demo child was seen killed by one (exit code null) twice under load.
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => { resolve([c, s]) }))
  t.equal(code, 0, `${err} (signal: ${signal ?? 'none'})`)
  t.match(out, /agent : Hello, thank you for calling/, 'the greeting is in the live transcript')
  t.match(out, /caller: Hello, this is Mario Rossi\. Please call me back\.\n/, 'the caller spoke')
  t.equal(out.match(/caller: /g)?.length, 1, 'once: --say replaces the default line')
  t.match(out, /log {3}: message recorded/, "the script's own log line")
  t.match(out, /agent : Thank you\. Your message has been recorded/, 'the message was recorded')
  t.match(out, /Outcome\s+message_taken/, 'the call record is shown')
  const wav = parseWav(await readFile(join(cwd, 'demo-call.wav')))
  t.equal(wav.channels, 2, 'the conversation WAV is stereo')
  const seconds = wav.samples.length / 2 / wav.sampleRate
  const started = Number(/\[\s*([\d.]+) s\] calling/.exec(out)?.[1])
  const ended = Number(/\[\s*([\d.]+) s\] call ended/.exec(out)?.[1])
  t.ok(Math.abs(seconds - (ended - started)) < 1.5, `and as long as the call (${seconds.toFixed(1)} s of WAV, ${(ended - started).toFixed(1)} s of call)`)
})
