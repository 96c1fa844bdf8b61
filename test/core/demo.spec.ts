import t from 'tap'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseWav } from '../../lib/media/wav.ts'
import { runCli } from '../helpers/cli.ts'

// In process: core/bin.spec and core/init.spec run the real binary; a child process here only
// added its start-up (2-3 CPU-seconds of module loading) to the suite.

t.test('the quick-start demo: a simulated caller leaves a message, offline, with no config', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'pa-demo-'))
  // The caller's words are given to keep the call short; the demo's own are the same kind of line.
  const { code, out, err } = await runCli(['demo', '--say', 'Hello, this is Mario Rossi. Please call me back.'], { cwd })
  t.equal(code, 0, err)
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
