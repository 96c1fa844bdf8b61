import t from 'tap'
import { agentSchema, checkAgentTargets, greetingFor, textFor } from '../../lib/agent/config.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'

t.test('an empty agent section gets safe defaults', async (t) => {
  const agent = agentSchema.parse({})
  t.equal(agent.operatorKey, '0')
  t.equal(agent.maxCallSeconds, 900)
  t.equal(agent.reprompts.max, 2)
  t.equal(agent.deadlines.turnMs, 8000)
  t.equal(agent.history.maxChars, 24_000)
  t.equal(agent.sentences.maxChars, 150)
  t.strictSame(agent.tools, ['transfer_call', 'end_call', 'take_message', 'lookup_contact'])
  t.strictSame(agent.transfers, {})
  t.equal(agent.contacts, undefined)
  t.equal(agent.businessHours, undefined)
  t.match(agent.instructions, /cannot dial phone numbers/)
  t.equal(agent.greeting['it-IT'], 'Buongiorno, come posso aiutarla?')
})

t.test('a full section parses', async (t) => {
  const agent = agentSchema.parse({
    instructions: 'Be brief.',
    greeting: { 'it-IT': 'Studio Rossi, buongiorno.' },
    contacts: { file: 'contacts.csv', watch: true },
    businessHours: { timezone: 'Europe/Rome', weekly: { mon: ['09:00-18:00'] }, closed: ['12-25'] },
    transfers: { human: 'reception', afterHours: 'voicemail', offered: ['reception', 'sales'] },
    reprompts: { max: 1 },
    deadlines: { turnMs: 6000 },
    operatorKey: false,
    tools: ['transfer_call', 'end_call'],
  })
  t.equal(agent.contacts?.watch, true)
  t.equal(agent.businessHours?.timezone, 'Europe/Rome')
  t.strictSame(agent.businessHours?.weekly.tue, [])
  t.equal(agent.operatorKey, false)
  t.equal(agent.deadlines.noInputMs, 8000, 'sibling defaults still apply')
  t.strictSame(agent.reprompts.text['en-US'], 'Are you still there?')
})

t.test('mistakes are named by path', async (t) => {
  const bad: Array<[unknown, string]> = [
    [{ greting: {} }, ''],
    [{ operatorKey: '00' }, 'operatorKey'],
    [{ operatorKey: 0 }, 'operatorKey'],
    [{ maxCallSeconds: 0 }, 'maxCallSeconds'],
    [{ transfers: { human: 'sofia/gateway/x/0900' } }, 'transfers.human'],
    [{ transfers: { humans: 'x' } }, 'transfers'],
    [{ tools: ['dial'] }, 'tools.0'],
    [{ greeting: { italian: 'Ciao' } }, 'greeting.italian'],
    [{ greeting: { 'it-IT': 'Ciao\u0007' } }, 'greeting.it-IT'],
    [{ greeting: { 'it-IT': '   ' } }, 'greeting.it-IT'],
    [{ contacts: { file: '' } }, 'contacts.file'],
    [{ businessHours: { timezone: 'Europe/Atlantis', weekly: {} } }, 'businessHours.timezone'],
    [{ deadlines: { turnMs: 10 } }, 'deadlines.turnMs'],
  ]
  for (const [input, path] of bad) {
    const r = agentSchema.safeParse(input)
    t.equal(r.success, false, JSON.stringify(input))
    t.equal(r.error?.issues[0]?.path.join('.'), path, `names "${path}"`)
  }
})

t.test('checkAgentTargets: every named target must be configured', async (t) => {
  const agent = agentSchema.parse({ transfers: { human: 'reception', afterHours: 'voicemail', offered: ['reception', 'ceo'] } })
  t.doesNotThrow(() => checkAgentTargets(agentSchema.parse({ transfers: { human: 'reception' } }), ['reception']))
  let err: unknown
  try { checkAgentTargets(agent, ['reception', 'voicemail']) } catch (e) { err = e }
  t.ok(isPhoneAgentError(err, 'CONFIG_INVALID'))
  t.match(err, { field: 'agent.transfers.offered.1', message: /unknown transfer target "ceo" \(configured: reception, voicemail\)/ })
  err = undefined
  try { checkAgentTargets(agent, []) } catch (e) { err = e }
  t.match(err, { field: 'agent.transfers.human', message: /configured: none/ })
})

t.test('textFor and greetingFor pick the closest language', async (t) => {
  const texts = { 'en-US': 'Hello', 'it-IT': 'Ciao', de: 'Hallo' }
  t.equal(textFor(texts, 'it-IT'), 'Ciao')
  t.equal(textFor(texts, 'it-CH'), 'Ciao', 'same base language')
  t.equal(textFor(texts, 'de-AT'), 'Hallo')
  t.equal(textFor(texts, 'fr-FR'), 'Hello', 'fallback language')
  t.equal(textFor({ 'es-ES': 'Hola' }, 'fr-FR'), 'Hola', 'first configured as a last resort')
  const agent = agentSchema.parse({})
  t.equal(greetingFor(agent, 'it-IT', 'Marco'), 'Buongiorno Marco, come posso aiutarla?')
  t.equal(greetingFor(agent, 'it-IT', '  '), 'Buongiorno, come posso aiutarla?')
  t.equal(greetingFor(agent, 'de-DE'), 'Guten Tag, wie kann ich Ihnen helfen?')
})
