import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createAgentServices, cannedSpecs } from '../../lib/agent/services.ts'
import { ConversationHistory } from '../../lib/agent/history.ts'
import { findSpeech } from '../../lib/call/turn-media-files.ts'
import { optionsFrom } from '../../lib/scripts/receptionist.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { toneSpeaker } from '../helpers/speaker.ts'

t.test('services: contacts relative to the config file, canned phrases outside the cache', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-agent-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'contacts.csv'), 'number,name\n0212345678,Ufficio\n')
  const config = buildConfig({
    media: { soundsDir: join(dir, 'sounds') },
    language: 'it-IT',
    transfers: { operator: { type: 'extension', extension: '1000' } },
    agent: { contacts: { file: 'contacts.csv' }, transfers: { human: 'operator' } },
  }, dir)
  const speaker = toneSpeaker(join(dir, 'sounds'))
  const services = await createAgentServices(config, { renderer: speaker })
  t.equal(services.lookupContact('+39 02 1234 5678')?.name, 'Ufficio')
  t.ok(speaker.requests.some((r) => r.text === 'Buongiorno Ufficio, come posso aiutarla?' && r.language === 'it-IT'),
    'a known contact\'s personal greeting is rendered at start-up, so answering never waits for TTS')
  const apology = 'Mi scusi, ho un problema tecnico. La metto in contatto con un collega.'
  const path = services.canned.lookup(apology, 'it-IT')
  t.match(path, /\/sounds\/agent\/[0-9a-f]{40}\.wav$/)
  t.equal(cannedSpecs(config).length, 24, 'apology, goodbye, reprompt, greeting, connecting, transfer failed, cannot help, filler in it-IT, en-US and de-DE')
  t.equal(services.canned.size, 24, 'every phrase rendered')
  // Evicting the TTS cache does not touch the pre-rendered copy.
  for (const r of speaker.requests) await unlink(join(dir, 'sounds', 'cache', `${(await import('node:crypto')).createHash('sha1').update(r.text).digest('hex')}.wav`)).catch(() => {})
  t.ok(existsSync(path!), 'the copy survives cache eviction')
  await services.close()
})

t.test('an agent target that is not configured fails at config load with the field', async (t) => {
  t.throws(() => buildConfig({ agent: { transfers: { human: 'nobody' } } }, process.cwd()), { code: 'CONFIG_INVALID', field: 'agent.transfers.human' })
})

t.test('history: a reply in a tool round is visible to the next request before it is committed', async (t) => {
  const h = new ConversationHistory({ system: 'sys' })
  h.addUser('hi')
  const turn = h.beginAssistant()
  turn.say('One moment.')
  turn.toolCall({ id: 'c1', name: 'lookup_contact', arguments: '{}' })
  turn.toolResult('c1', '{"found":false}')
  t.same(h.messages().slice(1).map((m) => m.role), ['user', 'assistant', 'tool'])
  t.equal(h.transcript().length, 1, 'nothing committed yet')
  turn.complete()
  t.same(h.messages().slice(1).map((m) => m.role), ['user', 'assistant', 'tool'], 'the same messages once committed')
})

t.test('findSpeech: loud frames only, clicks ignored', async (t) => {
  const samples = new Int16Array(8000)
  t.equal(findSpeech(samples, 8000, 200), undefined, 'silence')
  samples.fill(5000, 100, 200) // one frame: a click
  t.equal(findSpeech(samples, 8000, 200), undefined, 'a click is not speech')
  for (let i = 1600; i < 4000; i++) samples[i] = i % 2 === 0 ? 3000 : -3000
  t.same(findSpeech(samples, 8000, 200), { startMs: 0, endMs: 500 }, 'from the first loud frame to the last')
})

t.test('receptionist route options: only well-typed values pass', async (t) => {
  t.same(optionsFrom({ instructions: 'Be brief.', greeting: false, tools: ['end_call', 'rm -rf'], targets: ['sales', 3], hints: ['Rossi'], targetDescriptions: { sales: 'orders', x: 1 } }), {
    instructions: 'Be brief.', greeting: false, tools: ['end_call'], hints: ['Rossi'], targetDescriptions: { sales: 'orders' },
  })
  t.same(optionsFrom({}), {})
})
