import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { openCallStore } from '../../lib/records/open.ts'
import { recordsSchema } from '../../lib/records/config.ts'
import { logSink } from './helpers.ts'

const child = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url))

t.test('a process killed mid-call leaves its record, marked interrupted at next start-up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'phone-agent-crash-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const dataDir = join(dir, 'data')

  const proc = spawn(process.execPath, ['--import', 'tsx', child, dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => { proc.once('exit', (_code, signal) => { resolve(signal) }) })
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (c: Buffer) => { if (c.toString().includes('ready')) resolve() })
    proc.once('exit', () => { reject(new Error(`child exited before ready: ${stderr}`)) })
  })
  proc.kill('SIGKILL')
  t.equal(await exited, 'SIGKILL', 'the child died without any chance to clean up')

  const { logger, lines } = logSink()
  const store = await openCallStore(recordsSchema.parse({ dataDir, instance: 'restarted' }), { logger, configDir: dir, env: {} })
  t.teardown(() => store.close())
  const before = await store.get('crash-1')
  t.equal(before?.outcome, null, 'the record is there, still open')
  t.equal(await store.recoverInterrupted(), 1)
  const after = await store.get('crash-1')
  t.match(after, { outcome: 'interrupted', did: '+390212345678', callerNumber: '+393331234567' })
  t.ok(after?.answeredAt, 'answer time kept')
  t.same(after?.turns.map((x) => x.text), ['Hello, you are speaking with the assistant.', 'Hi, I was calling about'])
  t.ok(after !== undefined && after.endedAt !== null && after.endedAt >= after.startedAt, 'ended at its last recorded activity')
  t.match(lines.find((l) => l.msg === 'call records left open by a previous run marked interrupted'), { level: 40, count: 1 })
})
