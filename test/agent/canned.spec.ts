import t from 'tap'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CannedSpeech, type CannedRenderer } from '../../lib/agent/canned.ts'
import { captureLogs } from '../helpers/logs.ts'

// Fixed phrases rendered at start-up into <soundsDir>/agent (lib/agent/canned.ts).

t.test('workers rendering the same phrases into one directory at once: every one gets them all', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-canned-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const source = join(dir, 'rendered.wav')
  await writeFile(source, Buffer.alloc(1000, 1))
  const renderer: CannedRenderer = { render: async () => ({ path: source }) }
  const specs = Array.from({ length: 20 }, (_, i) => ({ text: `phrase ${i}`, language: 'it' }))
  const { logger, records } = captureLogs()
  // Four workers (server.workers: 4) starting together, as the primary forks them.
  const workers = Array.from({ length: 4 }, () => new CannedSpeech(dir))
  const results = await Promise.all(workers.map(async (w) => await w.prerender(renderer, specs, logger)))
  t.same(results, workers.map(() => ({ rendered: 20, failed: 0 })), 'no worker lost a phrase to another\'s rename')
  t.notOk(records.some((l) => l.level >= 40), 'no warning')
  for (const w of workers) t.ok(specs.every((s) => w.lookup(s.text, s.language) !== undefined))
  t.same((await readdir(join(dir, 'agent'))).filter((f) => f.endsWith('.tmp')), [], 'no temp file left')
})

t.test('a copy that fails leaves no temp file and is left to live TTS', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-canned-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const renderer: CannedRenderer = { render: async () => ({ path: join(dir, 'missing.wav') }) }
  const { logger, records } = captureLogs()
  const canned = new CannedSpeech(dir)
  t.same(await canned.prerender(renderer, [{ text: 'ciao', language: 'it' }], logger), { rendered: 0, failed: 1 })
  t.ok(records.some((l) => l.msg === 'agent phrase not pre-rendered; it will be synthesised when needed'))
  t.equal(canned.lookup('ciao', 'it'), undefined)
  t.same(await readdir(join(dir, 'agent')), [])
})
