import { z } from 'zod'
import { HANGUP_CAUSES } from '../freeswitch/hangup-causes.ts'
import { isKnownCountry } from '../numbers/e164.ts'
import { speechSchema } from '../speech/config.ts'
import { guardSchema } from '../guard/config.ts'
import { agentSchema } from '../agent/config.ts'
import { recordsSchema } from '../records/config.ts'
import { opsSchema } from '../ops/config.ts'
import { doctorSchema } from '../doctor/config.ts'
import { notifySchema, privacySchema } from '../notify/config.ts'
import { consoleSchema } from '../console/config.ts'
import { retentionSchema } from '../retention/config.ts'
import { languageTag as language, mediaMode, mediaStreamSchema, routeSchema, transferTargetSchema } from '../call/config.ts'

/**
 * The one config file (YAML or JSON), validated at start-up. Objects are strict so a typo in a
 * key fails with the key's name instead of being silently ignored.
 */

const hangupCause = z.enum(HANGUP_CAUSES)

const DEFAULT_BUSY: Record<string, string> = {
  en: 'All our lines are busy at the moment. Please call again in a few minutes. Goodbye.',
  it: 'Tutte le nostre linee sono occupate. La preghiamo di richiamare tra qualche minuto. Arrivederci.',
  de: 'Alle unsere Leitungen sind im Moment besetzt. Bitte rufen Sie in einigen Minuten wieder an. Auf Wiederhören.',
}

const DEFAULT_SHUTDOWN: Record<string, string> = {
  en: 'We are sorry, we have to end this call now. Please call us again in a few minutes. Goodbye.',
  it: 'Ci scusiamo, dobbiamo chiudere la chiamata. La preghiamo di richiamare tra qualche minuto. Arrivederci.',
  de: 'Entschuldigung, wir müssen das Gespräch jetzt beenden. Bitte rufen Sie in einigen Minuten wieder an. Auf Wiederhören.',
}

const DEFAULT_APOLOGY: Record<string, string> = {
  en: 'We are sorry, something went wrong. Please call again later. Goodbye.',
  it: 'Ci scusiamo, si è verificato un problema. La preghiamo di richiamare più tardi. Arrivederci.',
  de: 'Entschuldigung, es ist ein Fehler aufgetreten. Bitte rufen Sie später noch einmal an. Auf Wiederhören.',
}

export const serverSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port (tests, in-process simulated calls). */
  port: z.number().int().min(0).max(65535).default(8084),
  /**
   * The Event Socket carries full call control: binding it beyond loopback must be a decision,
   * not an accident.
   */
  allowRemote: z.boolean().default(false),
  /** Timeout for commands FreeSWITCH answers at once (sendmsg, linger, filter, event). */
  commandTimeoutMs: z.number().int().positive().default(5000),
  /** How long we wait after the disconnect notice for late events before `exit`. */
  lingerMs: z.number().int().nonnegative().default(200),
  /** From accept to a finished setup (connect reply, filters, linger, events); then the socket is destroyed. */
  handshakeTimeoutMs: z.number().int().positive().default(5000),
  /** Connections allowed in handshake at once; more are closed at accept. */
  maxHandshakes: z.number().int().positive().default(64),
  /**
   * Processes that take calls: 1 runs everything in this process; more (or `auto`, one per
   * CPU) forks workers that share the port (lib/cluster).
   */
  workers: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
})

export const mediaSchema = z.strictObject({
  /** Our sounds directory (TTS cache in cache/, recordings in recordings/). */
  soundsDir: z.string().default('sounds'),
  /** The same directory as FreeSWITCH sees it, when FreeSWITCH runs elsewhere (shared mount). */
  freeswitchSoundsDir: z.string().optional(),
  /** stream: unicast (fast turns, barge-in). files: FreeSWITCH playback/record, one utterance at a time. */
  mode: mediaMode.default('stream'),
  stream: mediaStreamSchema.prefault({}),
})

export const scriptSchema = z.strictObject({
  /** Path to a module exporting `default defineScript(...)`, relative to the config file. */
  module: z.string().min(1),
})

const targetName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'target names are letters, digits, _ and -')

export const configSchema = z.strictObject({
  server: serverSchema.default(serverSchema.parse({})),
  media: mediaSchema.default(mediaSchema.parse({})),
  numbers: z.strictObject({
    /** Country for national-format numbers (ISO 3166 two letters). */
    defaultCountry: z.string().refine(isKnownCountry, 'unknown country code').default('IT'),
  }).default({ defaultCountry: 'IT' }),
  language: language.default('en-US'),
  /** DID (any form; normalised to E.164 at load) -> route. */
  routes: z.record(z.string(), routeSchema).default({}),
  defaultRoute: routeSchema.optional(),
  unknownDid: z.strictObject({
    hangupCause: hangupCause.default('UNALLOCATED_NUMBER'),
  }).default({ hangupCause: 'UNALLOCATED_NUMBER' }),
  scripts: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), scriptSchema).default({}),
  transfers: z.record(targetName, transferTargetSchema).default({}),
  /** What the caller hears when a script fails, by language (the primary subtag: en, it, de). */
  messages: z.strictObject({
    apology: z.record(z.string().regex(/^[a-z]{2,3}$/), z.string().min(1).max(500)).default(DEFAULT_APOLOGY),
    /** Heard (as early media, unanswered) when every line is taken and guard.capacity.whenFull is busy-message. */
    busy: z.record(z.string().regex(/^[a-z]{2,3}$/), z.string().min(1).max(500)).default(DEFAULT_BUSY),
    /** Said before hanging up calls still running when the service shuts down past its deadline. */
    shutdown: z.record(z.string().regex(/^[a-z]{2,3}$/), z.string().min(1).max(500)).default(DEFAULT_SHUTDOWN),
  }).default({ apology: DEFAULT_APOLOGY, busy: DEFAULT_BUSY, shutdown: DEFAULT_SHUTDOWN }),
  speech: speechSchema.default(speechSchema.parse({})),
  guard: guardSchema.default(guardSchema.parse({})),
  agent: agentSchema.prefault({}),
  records: recordsSchema.prefault({}),
  ops: opsSchema.prefault({}),
  /** Notifications on call end (webhook, e-mail) and the daily digest: lib/notify/, docs/console-and-notifications.md. */
  notify: notifySchema.prefault({}),
  /** What the console and notifications may reveal. */
  privacy: privacySchema.prefault({}),
  /** The web console on the ops HTTP server. */
  console: consoleSchema.prefault({}),
  /** How long call audio, transcripts and records are kept. */
  retention: retentionSchema.prefault({}),
  /** `phone-agent doctor`: the inbound Event Socket and what to expect of the live FreeSWITCH. */
  doctor: doctorSchema.prefault({}),
  logging: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).default({ level: 'info' }),
}).superRefine((config, ctx) => {
  // Files mode has no stream of ours to record from: FreeSWITCH's own record_session is the tool there.
  const routes: Array<[Array<string>, z.infer<typeof routeSchema>]> = Object.entries(config.routes).map(([did, r]) => [['routes', did], r])
  if (config.defaultRoute !== undefined) routes.push([['defaultRoute'], config.defaultRoute])
  for (const [path, route] of routes) {
    if (route.recordCall === true && (route.mediaMode ?? config.media.mode) === 'files') {
      ctx.addIssue({ code: 'custom', path: [...path, 'recordCall'], message: 'whole-call recording needs stream media mode (in files mode use FreeSWITCH\'s record_session in the dialplan)' })
    }
  }
})

export type ConfigInput = z.input<typeof configSchema>
export type ParsedConfig = z.infer<typeof configSchema>
