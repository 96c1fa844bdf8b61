import type { VadEngine } from '../media/vad/index.ts'
import type { Logger } from 'pino'
import type { CallConfig, RouteConfig } from './config.ts'
import { nullRecorder } from '../records/null-recorder.ts'
import { meteredRecorder } from './cost.ts'
import type { CallOutcome, CallRecorder, CallStore } from '../records/types.ts'
import { isCallEnded, isPhoneAgentError } from '../errors.ts'
import type { Channel } from '../freeswitch/channel.ts'
import type { AdmissionGuard, DialGuard } from '../guard/index.ts'
import type { LlmProvider } from '../llm/types.ts'
import type { SttProvider } from '../speech/stt/types.ts'
import { admitCall, messageFor, refuseCall } from './admit.ts'
import type { AgentServices } from '../agent/services.ts'
import type { Speaker, VerbContext } from './context.ts'
import { MediaPaths } from './media-paths.ts'
import { routeCall } from './router.ts'
import { callLogger } from './child-logger.ts'
import { flatBindings } from '../freeswitch/flat-string.ts'
import type { CallScript } from './script.ts'
import { createCall } from './session.ts'
import { StreamSession } from './stream/session.ts'
import { say } from './verbs/say.ts'
import { decodedAudio } from './stream/decoded-audio.ts'
import { wavDurationMs } from './wav-duration.ts'
import { REFUSAL_CAUSES } from './transfer/outcome.ts'
import { planCallRecording, type CallRecording } from './recording/call-recording.ts'

export interface CallRunnerDeps {
  readonly config: CallConfig
  readonly scripts: ReadonlyMap<string, CallScript>
  readonly speaker: Speaker
  readonly stt?: SttProvider | undefined
  readonly llm?: LlmProvider | undefined
  readonly logger: Logger
  readonly admission: AdmissionGuard
  readonly dial: DialGuard
  /** Where call records go; none kept when absent. */
  readonly records?: Pick<CallStore, 'begin'> | undefined
  /** The conversation agent's shared services (contacts, hours, pre-rendered phrases). */
  readonly agent?: AgentServices | undefined
  /** Voice-activity detectors for stream mode (Silero batched, or the classic detector). */
  readonly vads?: VadEngine | undefined
}

/** One MediaPaths per media config, shared by its calls: it holds nothing of a call's (~200 B a call: soundsDir resolved anew). */
const sharedMediaPaths = new WeakMap<CallConfig['media'], MediaPaths>()

function mediaPathsFor (media: CallConfig['media']): MediaPaths {
  let paths = sharedMediaPaths.get(media)
  if (paths === undefined) {
    paths = new MediaPaths(media.soundsDir, media.freeswitchSoundsDir)
    sharedMediaPaths.set(media, paths)
  }
  return paths
}

/**
 * The stream config of a route with its own end-of-turn timing, made once a route. Made per call
 * (`{ ...stream, endpointing }`), each copy had a hidden class of its own: V8 gives a spread
 * object a map that is not shared once a key is added after the spread (~600 B a call with its
 * descriptor array; with %HaveSameMap, 11 of 1,999 consecutive such objects shared one).
 */
const routeStreamConfigs = new WeakMap<RouteConfig, { from: CallConfig['media']['stream'], config: CallConfig['media']['stream'] }>()

function streamConfigFor (stream: CallConfig['media']['stream'], route: RouteConfig): CallConfig['media']['stream'] {
  if (route.endpointing === undefined) return stream
  const made = routeStreamConfigs.get(route)
  if (made !== undefined && made.from === stream) return made.config
  const config = { ...stream, endpointing: route.endpointing }
  routeStreamConfigs.set(route, { from: stream, config })
  return config
}

/** The apology must never hold a broken call open: bounded even if TTS or FreeSWITCH stalls. */
const APOLOGY_TIMEOUT_MS = 15_000
const SETVAR_TIMEOUT_MS = 2000

/**
 * One call from connect to goodbye: route by DID, run the script, and whatever happens (the
 * script throws, the caller hangs up, the socket dies) end the call cleanly. Never throws.
 */
export async function runCall (channel: Channel, deps: CallRunnerDeps): Promise<void> {
  const { config } = deps
  const decision = routeCall(config, channel.data)
  // Its children (the verbs', the turns') extend the flat bindings.
  const log = flatBindings(callLogger(deps.logger, { call: channel.uuid, did: decision.did ?? null }))
  const route = decision.found ? decision.route : undefined
  const startedAt = Date.now()
  const recording = planCallRecording(config, route, channel.uuid, startedAt, log)
  // Every call gets a record, refused ones included, begun before anything can go wrong: as
  // soon as the connect reply is usable, before the rest of the Event Socket setup.
  const begun = deps.records?.begin({
    uuid: channel.uuid,
    did: decision.did ?? channel.data.destination ?? '',
    callerNumber: channel.data.callerNumber,
    callerName: channel.data.callerName,
    script: route?.script,
    mediaMode: route?.mediaMode ?? config.media.mode,
    startedAt,
    recordingPath: recording?.path,
  }) ?? nullRecorder(channel.uuid)
  const recorder = meteredRecorder(recording?.wrap(begun) ?? begun, config, { stt: deps.stt, llm: deps.llm })
  try {
    await channel.setup()
  } catch (err) {
    // The handshake died after the connect reply (deadline, socket closed, a refused command):
    // the server has destroyed the socket; the record says what happened.
    log.warn({ err }, 'call setup failed')
    await recorder.end({ outcome: 'handshake_failed', hangupCause: channel.hangupCause, endedAt: Date.now(), errorCode: isPhoneAgentError(err) ? err.code : undefined })
    return
  }
  const reject = async (reason: string, cause: string): Promise<void> => {
    recorder.rejected(reason)
    await safeHangup(channel, cause, log)
    await recorder.end({ outcome: 'rejected', hangupCause: channel.hangupCause ?? cause, endedAt: Date.now() })
  }

  if (!decision.found) {
    log.warn({ reason: decision.reason, destination: channel.data.destination ?? null }, 'no route for dialled number, rejecting')
    await reject('unknown_did', config.unknownDid.hangupCause)
    return
  }
  const { route: found } = decision
  const script = deps.scripts.get(found.script)
  if (script === undefined) {
    // Config validation makes this unreachable unless scripts were not loaded: fail loudly.
    log.error({ script: found.script }, 'route names a script that is not loaded')
    recorder.error({ code: 'SCRIPT_LOAD_FAILED', message: 'script not loaded' })
    await safeHangup(channel, 'NORMAL_TEMPORARY_FAILURE', log)
    await recorder.end({ outcome: 'failed', hangupCause: channel.hangupCause, endedAt: Date.now() })
    return
  }
  const language = found.language ?? config.language
  const verdict = await admitCall(channel, deps.admission, decision.did, log)
  if (!verdict.admitted) {
    if (verdict.reason === 'hung_up') {
      // Gone while the guard decided: not a refusal.
      await recorder.end({ outcome: 'caller_hung_up', hangupCause: channel.hangupCause ?? verdict.hangupCause, endedAt: Date.now() })
      return
    }
    recorder.rejected(verdict.reason)
    const how = await refuseCall(channel, verdict, { config, speaker: deps.speaker, language, log })
    // Handed to the dialplan's fallback: the call goes on without us; its record ends when it does.
    if (how === 'handed-back') await watchHandedOff(channel, log)
    await recorder.end({ outcome: 'rejected', hangupCause: channel.hangupCause ?? verdict.hangupCause, endedAt: Date.now() })
    return
  }
  let released = false
  // A method, not a named arrow: under tsx each named arrow made per call gets a `name` of its
  // own (esbuild's keepNames), a 256-byte property dictionary. It uses no `this`.
  const { release } = { release (): void { if (!released) { released = true; verdict.release() } } }
  // Returned, not awaited: this frame (a generator and its registers, ~300 B) would otherwise wait
  // out the whole call beside runScript's. The release still follows the script, however it ends.
  // (runScript is async: it rejects, never throws, so the finally always runs.)
  return runScript(channel, deps, { route: found, language, did: decision.did, viaDefault: decision.viaDefault, script, log, recorder, release, recording }).finally(release)
}

async function runScript (channel: Channel, deps: CallRunnerDeps, opts: {
  route: RouteConfig, language: string, did: string | undefined, viaDefault: boolean, script: CallScript, log: Logger, recorder: CallRecorder
  /** Gives the call's admission slot back (a handed-off call no longer uses the agent). */
  release: () => void
  /** Whole-call recording: starts with the stream, after the consent line. */
  recording?: CallRecording | undefined
}): Promise<void> {
  const { config } = deps
  const { route, language, script, log, recorder } = opts
  const mediaMode = route.mediaMode ?? config.media.mode
  let streamStarted: Promise<StreamSession> | undefined
  // The script's work stops when the caller hangs up and when we end the call (shutdown). One
  // signal for the call, the channel's own: on Node 20 each AbortSignal carries a hidden class of
  // its own, ~1 KB.
  const callSignal = channel.hangupOrEnd
  // Methods, as release() above.
  const { stream, playedOut } = {
    async stream (): Promise<StreamSession> {
      const session = await (streamStarted ??= StreamSession.start(channel, config.media.stream, log, deps.vads)
        .then(async (s) => { await opts.recording?.start(s, { speaker: deps.speaker, agent: deps.agent, language, voice: route.voice, signal: callSignal }); return s }))
      session.throwIfFailed()
      return session
    },
    async playedOut (): Promise<void> { await streamStarted?.then(async (s) => { await s.playedOut() }, () => {}) },
  }
  const { call, ctx, dispose } = createCall({
    ctx: {
      channel,
      media: mediaPathsFor(config.media),
      speaker: deps.speaker,
      stt: deps.stt,
      llm: deps.llm,
      transfers: config.transfers,
      dial: deps.dial,
      log,
      recorder,
      signal: callSignal,
      language,
      voice: route.voice,
      commandTimeoutMs: config.server.commandTimeoutMs,
      mediaMode,
      stream,
      playedOut,
      // A route may have its own end-of-turn timing (a dictation line waits longer).
      streamConfig: streamConfigFor(config.media.stream, route),
      agent: deps.agent,
    },
    did: opts.did,
    defaultCountry: config.numbers.defaultCountry,
    options: route.options,
  })
  log.info({ script: route.script, viaDefault: opts.viaDefault, caller: channel.data.callerNumber }, 'call started')
  // The dialplan may have answered before connecting us (its own `answer`): the record's
  // answer time is FreeSWITCH's then, from the connect reply.
  if (channel.answered) recorder.answered(answeredAtFromChannel(channel))
  let outcome: CallOutcome = 'completed'
  let errorCode: string | undefined
  try {
    await script.run(call)
  } catch (err) {
    if (isCallEnded(err)) {
      log.info({ reason: isPhoneAgentError(err) ? err.code : 'unknown' }, 'call ended during script')
      // Ended by us at shutdown is not the caller hanging up.
      outcome = channel.endRequested && channel.hangupCause === undefined ? 'completed' : 'caller_hung_up'
    } else {
      errorCode = isPhoneAgentError(err) ? err.code : 'SCRIPT_FAILED'
      log.error({ err, code: errorCode }, 'call script failed')
      recorder.error({ code: errorCode, message: err instanceof Error ? err.message : String(err) })
      outcome = 'failed'
      await apologise(ctx, config, err)
    }
  } finally {
    if (channel.endRequested && channel.isUp && !ctx.status.handedOff) await goodbye(ctx, config, streamStarted)
    dispose()
    if (streamStarted) await streamStarted.then(async (s) => { await s.close() }, () => {})
    await opts.recording?.stop()
    if (!ctx.status.handedOff) await safeHangup(channel, channel.endRequested ? 'SYSTEM_SHUTDOWN' : 'NORMAL_CLEARING', log)
    log.info({ hangupCause: channel.hangupCause ?? null, handedOff: ctx.status.handedOff }, 'call finished')
  }
  // What the call achieved (a message, a transfer) outranks how it ended, except a failure.
  if (outcome !== 'failed' && ctx.status.outcome !== undefined) outcome = ctx.status.outcome
  if (ctx.status.handedOff) {
    opts.release()
    const refusal = await watchHandedOff(channel, log)
    if (refusal !== undefined && outcome === 'transferred') {
      // The dialplan refused the transfer (the pack's outbound rules: OUTGOING_CALL_BARRED).
      outcome = 'failed'
      errorCode = refusal === 'OUTGOING_CALL_BARRED' ? 'DIAL_BLOCKED' : undefined
      log.warn({ hangupCause: refusal }, 'transfer refused by the dialplan')
    }
  }
  await recorder.end({ outcome, hangupCause: channel.hangupCause, endedAt: Date.now(), errorCode })
}

/**
 * Shutdown while a handed-off call is still up: our socket is about to close. With
 * socket_resume=true (the pack sets it, for failover) listener_run() would then set CS_RESET on
 * the channel, which breaks a running bridge: the human is hung up and the caller's dialplan
 * goes on after `socket`. Clearing the variable first leaves the call alone
 * (mod_event_socket.c listener_run "done:"; checked on a real FreeSWITCH).
 */
async function letGo (channel: Channel, log: Logger): Promise<void> {
  try {
    await channel.api(`uuid_setvar ${channel.uuid} socket_resume false`, SETVAR_TIMEOUT_MS)
  } catch (err) {
    log.warn({ err }, 'could not clear socket_resume; closing our socket may end the transferred call')
  }
}

/** FreeSWITCH's answer time from the connect reply (microseconds), else now. */
function answeredAtFromChannel (channel: Channel): number {
  const us = Number(channel.data.headers['Caller-Channel-Answered-Time'] ?? channel.data.headers.variable_answered_time ?? 0)
  return Number.isFinite(us) && us > 0 ? Math.floor(us / 1000) : Date.now()
}

/**
 * A handed-off call stays watched until it ends, so its record carries the real end and cause:
 * a transfer to an extension that the dialplan refuses ends at once with a refusal cause (and
 * no bridge), which is not a transfer. Shutdown stops watching; the call itself goes on (letGo).
 * Returns the refusal cause, if the call ended with one before any bridge.
 */
async function watchHandedOff (channel: Channel, log: Logger): Promise<string | undefined> {
  const either = channel.hangupOrEnd
  if (!either.aborted) await new Promise<void>((resolve) => { either.addEventListener('abort', () => { resolve() }, { once: true }) })
  if (channel.isUp) await letGo(channel, log)
  const bridged = channel.bridged
  const cause = channel.hangupCause
  log.info({ hangupCause: cause ?? null, bridged }, 'handed-off call ended')
  return !bridged && cause !== undefined && REFUSAL_CAUSES.has(cause) ? cause : undefined
}

async function apologise (ctx: VerbContext, config: Pick<CallConfig, 'messages'>, err: unknown): Promise<void> {
  if (!ctx.channel.isUp) return
  const text = messageFor(config.messages.apology, ctx.language)
  if (text === undefined) return
  // A stream that never started cannot carry it; FreeSWITCH's `playback` can, and ends no unicast
  // (the reason stream mode never uses it) since none runs.
  const via: VerbContext = isPhoneAgentError(err, 'MEDIA_STREAM_FAILED') ? { ...ctx, mediaMode: 'files' } : ctx
  try {
    await say(via, text, { signal: AbortSignal.timeout(APOLOGY_TIMEOUT_MS) })
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

/** Shutdown past its deadline: a short goodbye (pre-rendered), then the runner hangs up. */
async function goodbye (ctx: VerbContext, config: Pick<CallConfig, 'messages'>, stream: Promise<StreamSession> | undefined): Promise<void> {
  const text = messageFor(config.messages.shutdown, ctx.language)
  if (text === undefined) return
  try {
    const { path } = await ctx.speaker.render(text, { language: ctx.language, voice: ctx.voice, signal: ctx.channel.signal })
    if (stream !== undefined) {
      const session = await stream
      await session.play(await decodedAudio.get(path, session.rate), session.rate, ctx.channel.signal)
    } else {
      const durationMs = await wavDurationMs(path)
      await ctx.channel.execute('playback', ctx.media.toFreeswitch(path), { timeoutMs: durationMs + 5000, final: true })
    }
  } catch (err) {
    if (!isCallEnded(err)) ctx.log.warn({ err }, 'could not say goodbye')
  }
}
