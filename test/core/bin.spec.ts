import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { speechLike } from '../media-stream/signals.ts'
import { runCli } from '../helpers/cli.ts'

const bin = fileURLToPath(new URL('../../bin/phone-agent.js', import.meta.url))

t.test('the real binary: serve takes a call, records it, and shuts down cleanly on SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-bin-'))
  const config = join(dir, 'phone-agent.yaml')
  await writeFile(config, [
    'server: { port: 0 }',
    'ops: { http: { enabled: false }, shutdownDeadlineSeconds: 5 }',
    'records: { dataDir: ./data }',
    'media: { soundsDir: ./sounds }',
    'routes:',
    '  "+390212345678": { script: take-message, language: en-US, options: { greeting: "Leave a message.", thanks: "Thanks." } }',
  ].join('\n'))
  const child = spawn(process.execPath, [bin, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code) }))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const logs: Array<Record<string, unknown>> = []
  const listening = new Promise<number | undefined>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const rec = JSON.parse(line) as Record<string, unknown>
      logs.push(rec)
      if (rec.msg === 'outbound event socket listening') resolve(rec.port as number)
    })
    child.on('exit', () => { resolve(undefined) })
  })
  const port = await listening
  t.ok(port, `listening (stderr: ${stderr})`)
  const fs = new FakeFreeSwitch()
  const result = await fs.placeCall({
    port: port!, destination: '0212345678', callerNumber: '+393331234567',
    caller: { audio: [{ atMs: 2500, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 1.2, -18) }) }] },
  }).ended
  t.same(result.apps.map((a) => a.name), ['answer'], 'the default media mode is stream: everything over unicast')
  t.equal(result.unicast.length, 1)
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'exit code 0 after SIGTERM')
  t.ok(logs.some((l) => l.msg === 'message recorded' && l.call === result.uuid))

  // The record as `phone-agent calls` lists it; in process: the binary's own start is tested above.
  const list = await runCli(['calls', '--json', '--config', config])
  t.equal(list.code, 0, list.err)
  const out = list.out
  const calls = JSON.parse(out) as Array<{ uuid: string, outcome: string }>
  t.match(calls, [{ uuid: result.uuid, outcome: 'message_taken' }], 'phone-agent calls shows the record')
})
