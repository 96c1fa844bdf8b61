import { join } from 'node:path'
import type { Logger } from 'pino'
import { ConsoleAuth } from '../console/auth.ts'
import { createConsole, type ConsoleHandler } from '../console/server.ts'
import { toE164 } from '../numbers/e164.ts'
import { isLoopback } from '../ops/config.ts'
import { ConfigError } from '../errors.ts'
import type { ConsoleConfig } from '../console/config.ts'
import type { OpsConfig } from '../ops/config.ts'
import type { RecordsConfig } from '../records/config.ts'
import type { CallStore } from '../records/types.ts'
import { VoicemailTranscriber } from '../records/voicemail-transcripts.ts'
import type { SttProvider } from '../speech/stt/types.ts'
import { watchCalls, type LiveCall } from '../notify/call-watch.ts'
import type { NotifyConfig, PrivacyConfig } from '../notify/config.ts'
import { buildDigest, DigestScheduler, digestJson, digestText, localDay } from '../notify/digest.ts'
import { digestBody } from '../console/pages-digest.ts'
import { numberShown } from '../notify/mask.ts'
import type { RetentionConfig } from '../retention/config.ts'
import { RetentionService } from '../retention/retention.ts'
import { Notifier } from '../notify/notifier.ts'
import { ownerSecretProblems } from './secrets.ts'

/** The parts of the config the owner's services read. */
export interface OwnerConfig {
  readonly notify: NotifyConfig
  readonly privacy: PrivacyConfig
  readonly console: ConsoleConfig
  readonly ops: OpsConfig
  readonly records: RecordsConfig
  readonly language: string
  /** Routes by DID (normalised at load): a message is transcribed in its route's language. */
  readonly routes: Readonly<Record<string, { readonly language?: string | undefined }>>
  readonly defaultRoute?: { readonly language?: string | undefined } | undefined
  readonly media: { readonly soundsDir: string }
  readonly numbers: { readonly defaultCountry: string }
  readonly retention: RetentionConfig
}

export interface OwnerDeps {
  readonly store: CallStore
  readonly stt?: Pick<SttProvider, 'transcribe' | 'name'> | undefined
  readonly logger: Logger
  readonly env: NodeJS.ProcessEnv
  readonly now?: (() => number) | undefined
  /**
   * The calls in progress, when they run in other processes (a cluster primary: its workers'
   * last reports); otherwise the calls recorded through `records`.
   */
  readonly liveCalls?: (() => LiveCall[]) | undefined
}

export interface OwnerServices {
  /** What the call core records to: the store, watched for call ends and live phases. */
  readonly records: Pick<CallStore, 'begin'>
  live (): LiveCall[]
  readonly notifier: Notifier | undefined
  readonly transcriber: VoicemailTranscriber | undefined
  /** Present when `notify.digest.enabled`. */
  readonly digest: DigestScheduler | undefined
  /** Runs on its timer when `retention.days` or `retention.recordsDays` is set. */
  readonly retention: RetentionService
  /** For the ops HTTP server; undefined when `console.enabled` or `ops.http.enabled` is off. */
  readonly console: ConsoleHandler | undefined
  /**
   * A call recorded elsewhere (a worker process) has ended and its record is committed: the
   * same hand-off `records` makes for calls recorded here.
   */
  callEnded (uuid: string): void
  /** Resolves when every call end seen so far has been handed to the services (tests). */
  settled (): Promise<void>
  close (): Promise<void>
}

/**
 * The services that look after calls once they are over: voicemail transcripts, notifications
 * through the outbox. A call end is handled after the record is committed and never awaited by
 * the call. Start-up picks up what the last process left (pending transcripts and deliveries).
 */
export async function startOwnerServices (config: OwnerConfig, deps: OwnerDeps): Promise<OwnerServices> {
  const log = deps.logger.child({ component: 'owner' })
  const [problem] = ownerSecretProblems(config, deps.env)
  if (problem !== undefined) throw new ConfigError(problem.field, problem.message)
  const digestZone = config.notify.digest.timeZone
  const renderDigest = async (day: string): Promise<{ subject: string, text: string, json: unknown }> => {
    const d = await buildDigest(deps.store.sql, day, digestZone)
    return { subject: `Phone digest ${day}: ${d.figures.calls} calls, ${d.figures.messagesWaiting} messages waiting`, text: digestText(d), json: digestJson(d) }
  }
  const notifier = config.notify.webhook === undefined && config.notify.email === undefined
    ? undefined
    : new Notifier(config.notify, config.privacy, { store: deps.store, logger: log, env: deps.env, now: deps.now, digest: renderDigest })
  const digest = notifier === undefined || !config.notify.digest.enabled
    ? undefined
    : new DigestScheduler({
      sql: deps.store.sql, hour: config.notify.digest.hour, timeZone: digestZone, queue: async (day) => { await notifier.queueDigest(day) }, logger: log, now: deps.now,
    })
  const mt = config.records.messageTranscripts
  const transcriber = deps.stt === undefined || !mt.enabled
    ? undefined
    : new VoicemailTranscriber({
      sql: deps.store.sql, stt: deps.stt, attempts: mt.attempts, logger: log,
      language: (did) => mt.language ?? (Object.hasOwn(config.routes, did) ? config.routes[did]?.language : config.defaultRoute?.language) ?? config.language,
      onSettled: () => { notifier?.worker.wake() },
    })
  const inFlight = new Set<Promise<void>>()
  const handle = async (uuid: string): Promise<void> => {
    try {
      // Marked pending first, so the notification knows to wait for the transcript.
      await transcriber?.callEnded(uuid)
      await notifier?.callEnded(uuid)
    } catch (err) {
      log.error({ err, call: uuid }, 'could not hand the ended call to the owner services')
    }
  }
  const callEnded = (uuid: string): void => {
    const p = handle(uuid).finally(() => { inFlight.delete(p) })
    inFlight.add(p)
  }
  const watch = watchCalls(deps.store, callEnded, deps.now)
  const live = deps.liveCalls ?? watch.live
  const resumed = await transcriber?.resume()
  if (resumed !== undefined && resumed > 0) log.info({ messages: resumed }, 'voicemail transcripts left by the last run queued')
  notifier?.worker.wake()
  digest?.start()
  const retention = new RetentionService({
    sql: deps.store.sql, config: config.retention, recordingsDir: join(config.media.soundsDir, 'recordings'), logger: log, now: deps.now,
  })
  retention.start()
  const consoleZone = config.console.timeZone ?? digestZone
  const consoleHandler = !config.console.enabled || !config.ops.http.enabled
    ? undefined
    : createConsole({
      store: deps.store,
      live,
      auth: new ConsoleAuth(deps.env[config.console.tokenEnv]),
      loopbackOnly: isLoopback(config.ops.http.host),
      recordingsDir: join(config.media.soundsDir, 'recordings'),
      view: { number: numberShown(config.privacy.maskCallerNumbers), timeZone: consoleZone },
      digest: async (day) => digestBody(await buildDigest(deps.store.sql, day ?? localDay((deps.now ?? Date.now)(), consoleZone).day, consoleZone)),
      normalizeNumber: (n) => toE164(n, config.numbers.defaultCountry),
      now: deps.now,
      logger: log,
    })
  return {
    records: watch.records,
    live,
    callEnded,
    notifier,
    transcriber,
    digest,
    retention,
    console: consoleHandler,
    settled: async () => { await Promise.all([...inFlight]) },
    close: async () => {
      digest?.stop()
      await retention.stop()
      await Promise.all([...inFlight])
      await transcriber?.close()
      await notifier?.close()
    },
  }
}
