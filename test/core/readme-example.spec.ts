import t from 'tap'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { encodeWav } from '../../lib/media/wav.ts'
import { typecheckScripts } from '../../lib/cli/typecheck.ts'
import type { CallRecorder, CallStart, EndInput, MessageInput } from '../../lib/records/types.ts'
import { startTestAgent } from '../helpers/agent.ts'
import { speechLike } from '../media-stream/signals.ts'

// The README's first script, exactly as printed: it type-checks, and a caller who leaves a
// message after the tone has it filed with the call record. (It once recorded nothing as a
// message, and promised a tone it never played.)

async function readmeScript (): Promise<string> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('## A first script'))
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  if (code === undefined) throw new Error('no ts block under "A first script"')
  const dir = await mkdtemp(join(tmpdir(), 'pa-readme-'))
  const path = join(dir, 'front-desk.ts')
  await writeFile(path, code)
  return path
}

t.test("the README's first script type-checks", async (t) => {
  const path = await readmeScript()
  const result = await typecheckScripts([{ name: 'front-desk', path }])
  t.ok(result.checked, result.checked ? '' : result.reason)
  if (result.checked) t.same(result.problems, [])
})

t.test('checks of the same scripts at the same time share one run, and each caller gets its own result', async (t) => {
  const path = join(await mkdtemp(join(tmpdir(), 'pa-typo-')), 'typo.ts')
  await writeFile(path, "import type { Call } from 'phone-agent'\nexport default async (call: Call): Promise<void> => { await call.anwser() }\n")
  const [a, b] = await Promise.all([typecheckScripts([{ name: 'typo', path }]), typecheckScripts([{ name: 'typo', path }])])
  t.ok(a.checked && b.checked, 'both checked')
  if (!a.checked || !b.checked) return
  t.match(a.problems, [{ field: 'scripts.typo.module', message: /Property 'anwser' does not exist/ }])
  t.same(b.problems, a.problems, 'the same problems')
  t.not(b.problems, a.problems, 'in lists of their own')
  await writeFile(path, "import type { Call } from 'phone-agent'\nexport default async (call: Call): Promise<void> => { await call.answer() }\n")
  const fixed = await typecheckScripts([{ name: 'typo', path }])
  t.same(fixed.checked ? fixed.problems : undefined, [], 'an edited script is checked afresh')
})

t.test("the README's first script: a message left after the tone is filed", async (t) => {
  const module = await readmeScript()
  const messages: MessageInput[] = []
  const ends: EndInput[] = []
  const records = {
    begin: (start: CallStart): CallRecorder => ({
      uuid: start.uuid, rejected: () => {}, answered: () => {}, contact: () => {}, turn: () => {}, latency: () => {},
      message: (m) => { messages.push(m) }, error: () => {}, usage: () => {}, end: async (e) => { ends.push(e) },
    }),
  }
  const { port, logs } = await startTestAgent(t, {
    scripts: { 'front-desk': { module } },
    routes: { '+390212345678': { script: 'front-desk' } },
    transfers: { sales: { type: 'extension', extension: '2000' } },
  }, { records })
  const result = await new FakeFreeSwitch().placeCall({
    port,
    destination: '0212345678',
    callerNumber: '+393331234567',
    caller: {
      // "2" skips the sales option; the message starts once the tone is over.
      dtmf: [{ atMs: 600, digit: '2' }],
      audio: [{ atMs: 1500, wav: encodeWav({ sampleRate: 8000, channels: 1, samples: speechLike(8000, 1.2, -18) }) }],
    },
  }).ended
  const names = result.apps.map((a) => a.name)
  const record = names.indexOf('record')
  t.ok(record > 0, 'recorded')
  t.match(result.played.map((p) => p.path).at(-2), /\/phone-agent\/beep\.wav$/, '"after the tone": the tone is played before recording')
  // Opened as the recording starts (status: recording), then completed on the same path.
  t.equal(messages.filter((m) => m.status !== 'recording').length, 1, 'the message is filed with the call record')
  t.equal(ends.at(-1)?.outcome, 'message_taken')
  t.ok(logs.some((l) => l.msg === 'message left' && typeof l.seconds === 'number'), "the script's log line")
})
