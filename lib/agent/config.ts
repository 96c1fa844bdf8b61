import { z } from 'zod'
import { ConfigError } from '../errors.ts'
import { businessHoursSchema } from './business-hours.ts'
import { TOOL_NAMES } from './tools.ts'
import { CONVERSATION_MODES, realtimeSchema } from '../realtime/config.ts'

/**
 * The `agent:` section of the config file: what the conversation agent says, whom it may
 * transfer to, and how long it waits. Objects are strict (a typo fails with the key's name) and
 * every setting has a default that is safe on a live line.
 */

const language = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'expected a language tag such as it-IT')
const targetName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'target names are letters, digits, _ and -')
// Spoken text: bounded, and free of control characters a TTS engine or a log would choke on.
const spoken = z.string().trim().min(1).max(500).regex(/^[^\p{Cc}\p{Cf}]*$/u, 'control characters are not allowed')
const perLanguage = (defaults: Record<string, string>) => z.record(language, spoken).default(defaults)

const DEFAULT_INSTRUCTIONS = [
  'You are the receptionist answering the phone for a small business.',
  'You are speaking on a phone call: answer in one to three short sentences, no lists, no markdown, no emoji.',
  'Speak the caller\'s language. Never invent facts you were not given.',
  'To reach a person use transfer_call with one of the listed targets; you cannot dial phone numbers.',
  'If nobody can help now, offer to take a message with take_message. When the caller is done, say goodbye and use end_call.',
].join(' ')

export const agentSchema = z.strictObject({
  /** System instructions for the model. */
  instructions: z.string().trim().min(1).max(20_000).default(DEFAULT_INSTRUCTIONS),
  /** Appended to the instructions outside business hours ("we are closed, offer a message"). */
  afterHoursInstructions: z.string().trim().min(1).max(5_000).optional(),
  /** First words of the call, per language. */
  greeting: perLanguage({
    'en-US': 'Hello, how can I help you?',
    'it-IT': 'Buongiorno, come posso aiutarla?',
    'de-DE': 'Guten Tag, wie kann ich Ihnen helfen?',
  }),
  /** Greeting for a caller found in the contacts; `{name}` is replaced with the contact's name. */
  greetingKnown: perLanguage({
    'en-US': 'Hello {name}, how can I help you?',
    'it-IT': 'Buongiorno {name}, come posso aiutarla?',
    'de-DE': 'Guten Tag {name}, wie kann ich Ihnen helfen?',
  }),
  /** Said (pre-rendered) when a provider fails or misses its deadline, before the fallback transfer. */
  apology: perLanguage({
    'en-US': 'I am sorry, I am having technical trouble. Let me put you through.',
    'it-IT': 'Mi scusi, ho un problema tecnico. La metto in contatto con un collega.',
    'de-DE': 'Entschuldigung, ich habe ein technisches Problem. Ich verbinde Sie weiter.',
  }),
  goodbye: perLanguage({
    'en-US': 'Thank you for calling. Goodbye.',
    'it-IT': 'Grazie per aver chiamato. Arrivederci.',
    'de-DE': 'Vielen Dank für Ihren Anruf. Auf Wiederhören.',
  }),
  /** Said (pre-rendered) while a transfer target rings, before the ringback tone. */
  connecting: perLanguage({
    'en-US': 'Please hold, I am putting you through.',
    'it-IT': 'Resti in linea, la metto in contatto.',
    'de-DE': 'Bitte bleiben Sie dran, ich verbinde Sie.',
  }),
  /** Said (pre-rendered) when the operator key's transfer finds nobody: the conversation goes on. */
  transferFailed: perLanguage({
    'en-US': 'I am sorry, nobody can take your call right now. Can I take a message?',
    'it-IT': 'Mi dispiace, al momento nessuno può rispondere. Vuole lasciare un messaggio?',
    'de-DE': 'Es tut mir leid, gerade ist niemand erreichbar. Möchten Sie eine Nachricht hinterlassen?',
  }),
  /** Said (pre-rendered) when a reply would otherwise end in silence (every tool call refused). */
  cannotHelp: perLanguage({
    'en-US': 'I am sorry, I cannot do that. Is there anything else I can help you with?',
    'it-IT': 'Mi dispiace, non posso farlo. Posso aiutarla in altro modo?',
    'de-DE': 'Es tut mir leid, das kann ich nicht tun. Kann ich Ihnen sonst helfen?',
  }),
  /** Said (pre-rendered) when the caller has waited `deadlines.deadAirMs` in silence for the answer. */
  fillers: z.strictObject({
    /** Fillers at most per turn; 0: the first silence over budget ends in the apology. */
    max: z.number().int().min(0).max(3).default(2),
    text: perLanguage({
      'en-US': 'One moment.',
      'it-IT': 'Un attimo.',
      'de-DE': 'Einen Moment.',
    }),
  }).prefault({}),
  contacts: z.strictObject({
    /** JSON or CSV file, relative to the config file. */
    file: z.string().min(1),
    /** Default: from the extension (`.csv`, else JSON). */
    format: z.enum(['json', 'csv']).optional(),
    /** Reload the file when it changes. */
    watch: z.boolean().default(false),
  }).optional(),
  /** Without it the business is always open. */
  businessHours: businessHoursSchema.optional(),
  transfers: z.strictObject({
    /** Target (a name under top-level `transfers:`) for fallbacks and the operator key in hours. */
    human: targetName.optional(),
    /** Target outside business hours (typically voicemail). Default: `human`. */
    afterHours: targetName.optional(),
    /** Targets the model may choose. Default: every configured target. */
    offered: z.array(targetName).max(50).optional(),
  }).prefault({}),
  reprompts: z.strictObject({
    /** How many times to reprompt after silence before saying goodbye. */
    max: z.number().int().min(0).max(5).default(2),
    text: perLanguage({
      'en-US': 'Are you still there?',
      'it-IT': 'È ancora in linea?',
      'de-DE': 'Sind Sie noch da?',
    }),
  }).prefault({}),
  deadlines: z.strictObject({
    /** Silence from the caller before a reprompt. */
    noInputMs: z.number().int().min(1000).max(60_000).default(8000),
    /** From the end of the caller's speech to the answer's first audio; past it the apology plays. */
    turnMs: z.number().int().min(1000).max(60_000).default(8000),
    /**
     * Longest silence the caller hears while waiting for us (recognition, model, tools, speech):
     * past it a filler plays before the answer has started, else the apology.
     */
    deadAirMs: z.number().int().min(200).max(10_000).default(1500),
    /** Model request to its first token. */
    llmFirstTokenMs: z.number().int().min(500).max(60_000).default(5000),
    /** TTS request to its first audio. */
    ttsFirstAudioMs: z.number().int().min(500).max(60_000).default(4000),
  }).prefault({}),
  /** The call is ended (with the goodbye) after this long. */
  maxCallSeconds: z.number().int().min(30).max(4 * 3600).default(900),
  /** DTMF key that reaches the operator at any moment; false disables it. */
  operatorKey: z.union([z.enum(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#']), z.literal(false)]).default('0'),
  /** Tools offered to the model. */
  tools: z.array(z.enum(TOOL_NAMES)).default([...TOOL_NAMES]),
  /** How conversations run: `pipeline` (STT -> LLM -> TTS) or `realtime` (a speech-to-speech vendor; stream media only). */
  mode: z.enum(CONVERSATION_MODES).default('pipeline'),
  /** The speech-to-speech vendor for `realtime` (docs/realtime.md); a route's `options.realtime` overrides it. */
  realtime: realtimeSchema.optional(),
  history: z.strictObject({
    /** Bound on the prompt, in characters (about 4 per token). */
    maxChars: z.number().int().min(1000).max(1_000_000).default(24_000),
  }).prefault({}),
  sentences: z.strictObject({
    /** Longer sentences are cut at a comma so speech starts early. */
    maxChars: z.number().int().min(20).max(1000).default(150),
  }).prefault({}),
})

export type AgentConfigInput = z.input<typeof agentSchema>
export type AgentConfig = z.output<typeof agentSchema>

/**
 * Cross-checks that need the rest of the config: every target the agent names must exist under
 * top-level `transfers:`. Throws ConfigError naming the field.
 */
export function checkAgentTargets (agent: AgentConfig, transferNames: readonly string[]): void {
  const known = new Set(transferNames)
  const check = (field: string, name: string | undefined): void => {
    if (name !== undefined && !known.has(name)) {
      throw new ConfigError(field, `unknown transfer target "${name}" (configured: ${transferNames.join(', ') || 'none'})`)
    }
  }
  check('agent.transfers.human', agent.transfers.human)
  check('agent.transfers.afterHours', agent.transfers.afterHours)
  agent.transfers.offered?.forEach((name, i) => { check(`agent.transfers.offered.${i}`, name) })
}

/**
 * The text for a language: the exact tag, else the same base language (`it` for `it-CH`), else
 * `fallback`'s, else the first one configured.
 */
export function textFor (texts: Readonly<Record<string, string>>, lang: string, fallback = 'en-US'): string {
  const exact = texts[lang]
  if (exact !== undefined) return exact
  const base = lang.split('-')[0]?.toLowerCase()
  const sameBase = Object.keys(texts).find((k) => k.split('-')[0]?.toLowerCase() === base)
  if (sameBase !== undefined) return texts[sameBase] ?? ''
  return texts[fallback] ?? Object.values(texts)[0] ?? ''
}

/** The greeting for a caller, personal when the contact has a name. */
export function greetingFor (agent: AgentConfig, lang: string, contactName?: string): string {
  if (contactName !== undefined && contactName.trim() !== '') {
    return textFor(agent.greetingKnown, lang).replaceAll('{name}', contactName.trim())
  }
  return textFor(agent.greeting, lang)
}
