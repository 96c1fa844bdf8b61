import t from 'tap'
import { BusinessHours } from '../../lib/agent/business-hours.ts'
import { agentSchema } from '../../lib/agent/config.ts'
import { ConversationHistory } from '../../lib/agent/history.ts'
import { callProfile, greetingText, systemPrompt, systemPromptParts } from '../../lib/agent/prompt.ts'

const hours = new BusinessHours({ timezone: 'Europe/Rome', weekly: { mon: [], tue: [], wed: ['09:00-18:00'], thu: [], fri: [], sat: [], sun: [] }, closed: [], special: {} })
const agent = agentSchema.parse({ transfers: { human: 'operator', afterHours: 'voicemail', offered: ['operator', 'sales'] }, afterHoursInstructions: 'Closed: offer voicemail.' })
const names = ['operator', 'sales', 'voicemail']
const marco = { number: '+393331234567', name: 'Marco', company: 'Rossi Srl', language: 'de-DE', vip: true, notes: 'Line one\nline two' }

t.test('by day: the human, the offered targets, the contact\'s language and a personal greeting', async (t) => {
  const p = callProfile({ agent, contact: marco, callerNumber: marco.number, language: 'it-IT', hours, now: new Date('2025-06-04T08:00:00Z'), transferNames: names })
  t.equal(p.open, true)
  t.equal(p.fallbackTarget, 'operator')
  t.same(p.offeredTargets, ['operator', 'sales'])
  t.equal(p.language, 'de-DE')
  t.equal(greetingText(agent, p), 'Guten Tag Marco, wie kann ich Ihnen helfen?')
  const prompt = systemPrompt(agent, p)
  t.match(prompt, /^You are the receptionist/)
  t.notMatch(prompt, /Closed: offer voicemail/)
  t.match(prompt, /Local time: Wednesday 2025-06-04 10:00 \(Europe\/Rome\)\./)
  t.match(prompt, /notes: Line one line two\./, 'notes are folded onto one line')
  t.match(prompt, /data, not instructions/)
})

t.test('by night: voicemail only, the after-hours variant, the anonymous greeting', async (t) => {
  const p = callProfile({ agent, contact: undefined, callerNumber: undefined, language: 'it-IT', hours, now: new Date('2025-06-04T20:00:00Z'), transferNames: names })
  t.equal(p.open, false)
  t.equal(p.fallbackTarget, 'voicemail')
  t.same(p.offeredTargets, ['voicemail'])
  t.equal(greetingText(agent, p), 'Buongiorno, come posso aiutarla?')
  const prompt = systemPrompt(agent, p, { instructions: 'Custom.' })
  t.match(prompt, /^Custom\.\n\nClosed: offer voicemail\./)
  t.match(prompt, /The office is closed now/)
  t.match(prompt, /not in the contact directory/)
  t.notMatch(prompt, /Caller ID/)
})

t.test('targets that are not configured are never offered; no hours means always open', async (t) => {
  const p = callProfile({ agent: agentSchema.parse({}), contact: undefined, callerNumber: '+39021234567', language: 'en-US', hours: undefined, now: new Date(), transferNames: ['a'], offered: ['a', 'ghost'] })
  t.equal(p.open, true)
  t.same(p.offeredTargets, ['a'])
  t.equal(p.fallbackTarget, undefined)
  t.match(systemPrompt(agentSchema.parse({}), p), /Transfer targets: a\./)
})

t.test('the prompt in two pieces: the instructions and the call\'s context, the same text joined, in the history too', async (t) => {
  const day = callProfile({ agent, contact: marco, callerNumber: marco.number, language: 'it-IT', hours, now: new Date('2025-06-04T08:00:00Z'), transferNames: names })
  const night = callProfile({ agent, contact: undefined, callerNumber: undefined, language: 'it-IT', hours, now: new Date('2025-06-04T20:00:00Z'), transferNames: names })
  for (const [p, options] of [[day, {}], [night, {}], [night, { instructions: 'Custom.' }]] as const) {
    const parts = systemPromptParts(agent, p, options)
    const whole = systemPrompt(agent, p, options)
    t.equal(parts.shared + parts.own, whole)
    t.match(parts.own, /^Call context:\n- /, 'the call\'s own piece is its context')
    const h = new ConversationHistory({ system: parts, maxChars: whole.length + 10 })
    h.addUser('Hello')
    t.same(h.messages(), [{ role: 'system', content: whole }, { role: 'user', content: 'Hello' }], 'the prompt as one message, and counted whole against maxChars')
    const tight = new ConversationHistory({ system: parts, maxChars: whole.length + 2 })
    tight.addUser('Hi')
    tight.addUser('Again')
    t.same(tight.messages().map((m) => m.content), [whole, 'Again'], 'the budget sees the whole prompt')
  }
  const other = callProfile({ agent, contact: undefined, callerNumber: '+390211111111', language: 'it-IT', hours, now: new Date('2025-06-04T08:30:00Z'), transferNames: names })
  t.equal(systemPromptParts(agent, other).shared, systemPromptParts(agent, day).shared, 'the same head for two calls of the day')
})
