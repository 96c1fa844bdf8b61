import type { Logger } from 'pino'
import type { Config } from '../config/load.ts'
import type { RouteConfig } from '../config/schema.ts'
import { isCallEnded, isPhoneAgentError } from '../errors.ts'
import type { Channel } from '../freeswitch/channel.ts'
import type { AdmissionGuard, DialGuard } from '../guard/index.ts'
import type { LlmProvider } from '../llm/types.ts'
import type { SttProvider } from '../speech/stt/types.ts'
import { admitCall, messageFor, refuseCall } from './admit.ts'
import type { Speaker, VerbContext } from './context.ts'
import { MediaPaths } from './media-paths.ts'
import { routeCall } from './router.ts'
import type { CallScript } from './script.ts'
import { createCall } from './session.ts'
import { say } from './verbs/say.ts'

export interface CallRunnerDeps {
  readonly config: Config
  readonly scripts: ReadonlyMap<string, CallScript>
  readonly speaker: Speaker
  readonly stt?: SttProvider | undefined
  readonly llm?: LlmProvider | undefined
  readonly logger: Logger
  readonly admission: AdmissionGuard
  readonly dial: DialGuard
}

/** The apology must never hold a broken call open: bounded even if TTS or FreeSWITCH stalls. */
const APOLOGY_TIMEOUT_MS = 15_000

/**
 * One call from connect to goodbye: route by DID, run the script, and whatever happens (the
 * script throws, the caller hangs up, the socket dies) end the call cleanly. Never throws.
 */
export async function runCall (channel: Channel, deps: CallRunnerDeps): Promise<void> {
  const { config } = deps
  const decision = routeCall(config, channel.data)
  const log = deps.logger.child({ call: channel.uuid, did: decision.did ?? null })

  if (!decision.found) {
    log.warn({ reason: decision.reason, destination: channel.data.destination ?? null }, 'no route for dialled number, rejecting')
    await safeHangup(channel, config.unknownDid.hangupCause, log)
    return
  }
  const { route } = decision
  const script = deps.scripts.get(route.script)
  if (script === undefined) {
    // Config validation makes this unreachable unless scripts were not loaded: fail loudly.
    log.error({ script: route.script }, 'route names a script that is not loaded')
    await safeHangup(channel, 'NORMAL_TEMPORARY_FAILURE', log)
    return
  }
  const language = route.language ?? config.language
  const verdict = await admitCall(channel, deps.admission, decision.did, log)
  if (!verdict.admitted) {
    await refuseCall(channel, verdict, { config, speaker: deps.speaker, language, log })
    return
  }
  try {
    await runScript(channel, deps, { route, language, did: decision.did, viaDefault: decision.viaDefault, script, log })
  } finally {
    verdict.release()
  }
}

async function runScript (channel: Channel, deps: CallRunnerDeps, opts: {
  route: RouteConfig, language: string, did: string | undefined, viaDefault: boolean, script: CallScript, log: Logger
}): Promise<void> {
  const { config } = deps
  const { route, language, script, log } = opts
  const { call, ctx, dispose } = createCall({
    ctx: {
      channel,
      media: new MediaPaths(config.media.soundsDir, config.media.freeswitchSoundsDir),
      speaker: deps.speaker,
      stt: deps.stt,
      llm: deps.llm,
      transfers: config.transfers,
      dial: deps.dial,
      log,
      signal: channel.signal,
      language,
      voice: route.voice,
      commandTimeoutMs: config.server.commandTimeoutMs,
    },
    did: opts.did,
    defaultCountry: config.numbers.defaultCountry,
    options: route.options,
  })
  log.info({ script: route.script, viaDefault: opts.viaDefault, caller: channel.data.callerNumber }, 'call started')
  try {
    await script.run(call)
  } catch (err) {
    if (isCallEnded(err)) {
      log.info({ reason: isPhoneAgentError(err) ? err.code : 'unknown' }, 'call ended during script')
    } else {
      log.error({ err, code: isPhoneAgentError(err) ? err.code : 'SCRIPT_FAILED' }, 'call script failed')
      await apologise(ctx, config)
    }
  } finally {
    dispose()
    if (!ctx.state.handedOff) await safeHangup(channel, 'NORMAL_CLEARING', log)
    log.info({ hangupCause: channel.hangupCause ?? null, handedOff: ctx.state.handedOff }, 'call finished')
  }
}

async function apologise (ctx: VerbContext, config: Config): Promise<void> {
  if (!ctx.channel.isUp) return
  const text = messageFor(config.messages.apology, ctx.language)
  if (text === undefined) return
  try {
    await say(ctx, text, { signal: AbortSignal.timeout(APOLOGY_TIMEOUT_MS) })
  } catch (err) {
    if (!isCallEnded(err)) ctx.log.warn({ err }, 'could not play the apology')
  }
}

async function safeHangup (channel: Channel, cause: string, log: Logger): Promise<void> {
  if (!channel.isUp) return
  try {
    await channel.hangup(cause)
  } catch (err) {
    if (!isCallEnded(err)) log.warn({ err }, 'hangup failed')
  }
}
