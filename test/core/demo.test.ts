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
  const child = spawn(process.execPath, [bin, 'demo'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.equal(code, 0, err)
  t.match(out, /agent : Hello, thank you for calling/, 'the greeting is in the live transcript')
  t.match(out, /caller: Hello, this is Mario Rossi/, 'the caller spoke')
  t.match(out, /agent : Thank you\. Your message has been recorded/, 'the message was recorded')
  t.match(out, /Outcome\s+message_taken/, 'the call record is shown')
  const wav = parseWav(await readFile(join(cwd, 'demo-call.wav')))
  t.equal(wav.channels, 2, 'the conversation WAV is stereo')
  t.ok(wav.samples.length / 2 / wav.sampleRate > 15, 'and as long as the call')
})
