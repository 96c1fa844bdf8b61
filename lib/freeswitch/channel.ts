import { randomUUID } from 'node:crypto'
import type { FreeSwitchResponse } from 'esl'
import type { Logger } from 'pino'
import { CallHangupError, PhoneAgentError, abortReason } from '../errors.ts'
import type { ChannelData } from './channel-data.ts'
import { LazyAbort } from './lazy-abort.ts'
import { CHANNEL_EVENTS, routeEvents } from './routed-response.ts'
import { assertEslToken, assertEslValue } from './safe-value.ts'

/**
 * One call's Event Socket connection, the only place that touches the `esl` package's
 * per-call object. Everything above it sees `Channel`: typed errors, explicit timeouts, and one
 * AbortSignal that fires when the call is over for any reason.
 */

/** The events this project uses; we never subscribe to ALL (each event costs FreeSWITCH a serialisation). */
export const SUBSCRIBED_EVENTS = [
  'CHANNEL_EXECUTE', 'CHANNEL_EXECUTE_COMPLETE', 'CHANNEL_ANSWER', 'CHANNEL_HANGUP',
  'CHANNEL_HANGUP_COMPLETE', 'DTMF', 'PLAYBACK_START', 'PLAYBACK_STOP', 'RECORD_START', 'RECORD_STOP',
  'BACKGROUND_JOB', 'CHANNEL_BRIDGE', 'CHANNEL_UNBRIDGE',
] as const

export interface ExecuteResult {
  /** Application-Response: e.g. `FILE PLAYED`, `FILE NOT FOUND`, `_none_`. */
  readonly response: string
  /** The CHANNEL_EXECUTE_COMPLETE event body, for variables such as `variable_record_ms`. */
  readonly event: Readonly<Record<string, string>>
}

export interface ExecuteOptions {
  /** How long the application may run; `Infinity` for `bridge` (bounded by the call itself). */
  readonly timeoutMs: number
  /** Extra cancellation on top of the call's own signal (a turn, a barge-in). */
  readonly signal?: AbortSignal | undefined
  /**
   * Keep waiting for the completion after the caller hangs up (for at most `afterHangupMs`).
   * `record` needs it: FreeSWITCH closes the file and completes the application on hangup, and
   * a message left just before hanging up is the most common message of all.
   */
  readonly afterHangupMs?: number | undefined
  /** Runs even after requestEnd(): the goodbye that ends the call politely. */
  readonly final?: boolean | undefined
}

export interface ChannelOptions {
  readonly commandTimeoutMs: number
  /** After the disconnect notice, how long to wait for stray events before `exit`. */
  readonly lingerMs: number
  readonly logger: Logger
}

type EventBody = Record<string, string>

export class Channel {
  readonly uuid: string
  readonly data: ChannelData
  readonly signal: AbortSignal
  /** Resolves once the socket is closed and every listener is gone. */
  readonly closed: Promise<void>

  #esl: FreeSwitchResponse
  #opts: ChannelOptions
  #log: Logger
  #abort = new AbortController()
  /** Made when first waited on: most calls never do (lazy-abort.ts). */
  #socketClosed = new LazyAbort()
  /** The end request alone: only a wait past the hangup takes it (a bridge, a recording). */
  #endRequest = new LazyAbort()
  /** Hung up or asked to end: one signal for a script's work, not an `AbortSignal.any` a call (~1 KB on Node 20). */
  #over = new AbortController()
  #dtmfListeners = new Set<(digit: string) => void>()
  #answered = false
  #bridged = false
  #hangupCause: string | undefined
  #exiting: Promise<void> | undefined
  #resolveClosed!: () => void
  #lingerTimer: NodeJS.Timeout | undefined
  #setup: Promise<void> | undefined

  constructor (esl: FreeSwitchResponse, data: ChannelData, opts: ChannelOptions) {
    this.#esl = esl
    this.#opts = opts
    this.#log = opts.logger
    this.uuid = data.uuid
    this.data = data
    this.signal = this.#abort.signal
    this.#answered = data.headers['Answer-State'] === 'answered'
    this.closed = new Promise((resolve) => { this.#resolveClosed = resolve })
    this.#listen()
  }

  /** Whether we asked the call to end (shutdown): the script's work stops, a goodbye may follow. */
  get endRequested (): boolean { return this.#endRequest.aborted }
  /** Aborted when the call is over for the script: hung up (`signal`'s reason) or asked to end (requestEnd's). */
  get hangupOrEnd (): AbortSignal { return this.#over.signal }

  get answered (): boolean { return this.#answered }
  /** Whether the channel was ever bridged to another (CHANNEL_BRIDGE): a human answered a transfer. */
  get bridged (): boolean { return this.#bridged }
  get hangupCause (): string | undefined { return this.#hangupCause }
  get isUp (): boolean { return !this.signal.aborted }

  /**
   * The rest of the handshake, once the connect reply gave us a UUID that parseChannelData
   * checked. The server starts it; the call runner awaits the same promise (rejected when the
   * handshake fails from here on: a timeout, a closed socket, a refused command).
   */
  async setup (): Promise<void> {
    this.#setup ??= this.#runSetup()
    await this.#setup
  }

  async #runSetup (): Promise<void> {
    // Only this channel's events, and the BACKGROUND_JOBs of our bgapi commands, which api_exec()
    // stamps with Job-Owner-UUID = our channel. mod_event_socket.c parse_command "filter" adds a
    // filter; event_handler() then lets an event through when any filter header matches (values
    // compared with strcasecmp, so our lower-cased UUID matches FreeSWITCH's). We send these
    // ourselves, with the checked UUID: esl's FreeSwitchServer sent the raw connect-reply value.
    await this.#send(`filter Unique-ID ${this.uuid}`, {})
    await this.#send(`filter Job-Owner-UUID ${this.uuid}`, {})
    // `linger`, so the hangup events and the disconnect notice reach us (mod_event_socket.c:
    // without LFLAG_LINGER the socket is closed as soon as the channel hangs up and
    // CHANNEL_HANGUP_COMPLETE is lost); then the events we use (parse_command "event" adds to
    // the listener's event_list; esl's own `event json CHANNEL_EXECUTE_COMPLETE BACKGROUND_JOB`
    // is part of this list).
    await this.#send('linger', {})
    await this.#send(`event json ${SUBSCRIBED_EVENTS.join(' ')}`, {})
  }

  /** Run a dialplan application and wait for its CHANNEL_EXECUTE_COMPLETE. */
  async execute (app: string, arg: string, options: ExecuteOptions): Promise<ExecuteResult> {
    assertEslToken('application name', app)
    assertEslValue(`${app} argument`, arg)
    const call = options.final === true ? this.signal : this.#over.signal
    const signal = options.signal ? AbortSignal.any([call, options.signal]) : call
    if (signal.aborted) throw abortReason(signal)
    const waitSignal = options.afterHangupMs === undefined
      ? signal
      : AbortSignal.any([this.#socketClosed.signal, ...(options.signal ? [options.signal] : []), ...(options.final === true ? [] : [this.#endRequest.signal])])
    // The Event-UUID we choose comes back as Application-UUID on the completion event
    // (mod_event_socket.c parse_command "sendmsg" -> switch_ivr_parse_event stores it), which is
    // the only reliable way to tell two runs of the same application apart.
    const eventUuid = randomUUID()
    const completed = this.#waitFor(`CHANNEL_EXECUTE_COMPLETE ${eventUuid}`, options.timeoutMs, waitSignal, `${app} did not complete`, options.afterHangupMs)
    try {
      await this.#send(`sendmsg ${this.uuid}`, {
        'call-command': 'execute',
        'execute-app-name': app,
        'execute-app-arg': arg,
        'Event-UUID': eventUuid,
        // Without the lock, an execute arriving while another application runs is run nested
        // inside it (switch_ivr_parse_event -> switch_ivr_parse_all_messages), pausing the outer
        // one. Ours must queue in order.
        'event-lock': 'true',
      })
    } catch (err) {
      completed.cancel()
      throw err
    }
    const event = await completed.promise
    return { response: event['Application-Response'] ?? '', event }
  }

  /** Hang the channel up; resolves once FreeSWITCH reports the hangup (or the socket closes). */
  async hangup (cause: string): Promise<void> {
    if (!this.isUp) return
    assertEslToken('hangup cause', cause)
    try {
      await this.#send(`sendmsg ${this.uuid}`, { 'call-command': 'hangup', 'hangup-cause': cause })
    } catch (err) {
      if (!this.isUp) return
      throw err
    }
    const hungUp = this.#waitFor('CHANNEL_HANGUP', this.#opts.commandTimeoutMs, undefined, 'no CHANNEL_HANGUP after hangup')
    try {
      await hungUp.promise
    } catch {
      // Already aborted (the normal path) or FreeSWITCH never said so: either way this call is
      // over for us; make the signal say it.
      hungUp.cancel()
    }
    this.#end(() => new CallHangupError(cause))
  }

  /**
   * Ask the call to end (shutdown past its deadline): whatever the script is waiting on stops,
   * and FreeSWITCH cuts the prompt or recording in progress (`uuid_break all`), so the runner
   * can say goodbye (with `final` executes) and hang up.
   */
  async requestEnd (reason: PhoneAgentError): Promise<void> {
    if (this.#over.signal.aborted) return
    this.#endRequest.abort(reason)
    this.#over.abort(reason)
    try {
      await this.#esl.api(`uuid_break ${this.uuid} all`, this.#opts.commandTimeoutMs)
    } catch (err) {
      this.#log.debug({ err }, 'uuid_break failed')
    }
  }

  /**
   * Run an API command and return its body (`+OK ...`). FreeSWITCH's `-ERR ...` replies reject
   * with ESL_COMMAND_FAILED. The command line is checked like every other value.
   */
  async api (command: string, timeoutMs: number): Promise<string> {
    assertEslValue('api command', command)
    if (this.#esl.closed) throw new PhoneAgentError('ESL_SOCKET_CLOSED', 'socket closed before api')
    try {
      const res = await this.#esl.api(command, timeoutMs)
      return String(res.body ?? '')
    } catch (err) {
      throw translateEslError(err, 'api')
    }
  }

  /**
   * Run an API command in FreeSWITCH's background and wait for its BACKGROUND_JOB: the body
   * (`+OK ...` or `-ERR ...`, not rejected: the caller reads it). The event reaches this
   * session's socket because api_exec() stamps it with Job-Owner-UUID = our channel, which the
   * Job-Owner-UUID filter of setup() lets through (mod_event_socket.c: parse_command "bgapi",
   * event_handler).
   * The wait follows only `signal`: the job's outcome may still matter after a hangup (an
   * originate to cancel).
   */
  async bgapi (command: string, options: { timeoutMs: number, signal?: AbortSignal | undefined }): Promise<string> {
    assertEslValue('bgapi command', command)
    const jobUuid = randomUUID()
    const closed = this.#socketClosed.signal
    const signal = options.signal ?? closed
    // parse_command "bgapi" takes our Job-UUID header, so the completion can be matched.
    const done = this.#waitFor(`BACKGROUND_JOB ${jobUuid}`, options.timeoutMs, AbortSignal.any([signal, closed]), `${command.split(' ')[0] ?? 'bgapi'} did not finish`)
    try {
      await this.#send(`bgapi ${command}`, { 'Job-UUID': jobUuid })
    } catch (err) {
      done.cancel()
      throw err
    }
    const body = await done.promise as unknown as { _body?: string }
    return typeof body._body === 'string' ? body._body : ''
  }

  /** Subscribe to DTMF digits; returns the unsubscribe function. */
  onDtmf (listener: (digit: string) => void): () => void {
    this.#dtmfListeners.add(listener)
    return () => this.#dtmfListeners.delete(listener)
  }

  /** Send a raw `sendmsg` (e.g. `unicast`). Values are checked like every other. */
  async sendmsg (headers: Record<string, string>): Promise<void> {
    await this.#send(`sendmsg ${this.uuid}`, headers)
  }

  /**
   * Leave the call: `exit` then close the socket. Safe to call more than once and at any time;
   * never throws. Does not hang up: callers decide that first (a transferred call must survive).
   */
  async close (): Promise<void> {
    this.#exiting ??= this.#exit()
    await this.#exiting
  }

  async #exit (): Promise<void> {
    if (!this.#esl.closed) {
      try {
        await this.#send('exit', {})
      } catch (err) {
        this.#log.debug({ err }, 'exit not acknowledged')
      }
    }
    this.#end(() => new PhoneAgentError('ESL_SOCKET_CLOSED', 'we closed the Event Socket'))
    this.#esl.end()
    await this.closed
  }

  async #send (command: string, headers: Record<string, string>): Promise<void> {
    assertEslValue('command', command)
    for (const [k, v] of Object.entries(headers)) {
      assertEslToken('header name', k)
      assertEslValue(`${k} header`, v)
    }
    if (this.#esl.closed) throw new PhoneAgentError('ESL_SOCKET_CLOSED', `socket closed before ${command.split(' ')[0]}`)
    try {
      await this.#esl.send(command, headers, this.#opts.commandTimeoutMs)
    } catch (err) {
      throw translateEslError(err, command)
    }
  }

  /**
   * Wait for one event with a timeout and cancellation. The listener and timer are removed on
   * every path; a closed socket rejects at once (esl emits `socket.*` on close).
   */
  #waitFor (event: string, timeoutMs: number, signal: AbortSignal | undefined, what: string, afterHangupMs?: number):
  { promise: Promise<EventBody>, cancel: () => void } {
    const effective = signal ?? this.signal
    let cleanup = (): void => {}
    const promise = new Promise<EventBody>((resolve, reject) => {
      if (effective.aborted) { reject(abortReason(effective)); return }
      const esl = this.#esl as unknown as EslEmitter
      const onEvent = (res: { body: EventBody }): void => { cleanup(); resolve(res.body) }
      const onAbort = (): void => { cleanup(); reject(abortReason(effective)) }
      const onTimeout = (): void => { cleanup(); reject(new PhoneAgentError('ESL_TIMEOUT', `${what} in time`)) }
      let timer = Number.isFinite(timeoutMs) ? setTimeout(onTimeout, timeoutMs) : undefined
      // Survivors of a hangup get a short, fixed grace period instead of their full timeout.
      const onHangup = (): void => {
        if (timer) clearTimeout(timer)
        timer = setTimeout(onTimeout, afterHangupMs ?? 0)
      }
      cleanup = () => {
        esl.removeListener(event, onEvent)
        effective.removeEventListener('abort', onAbort)
        this.signal.removeEventListener('abort', onHangup)
        if (timer) clearTimeout(timer)
      }
      esl.once(event, onEvent)
      effective.addEventListener('abort', onAbort, { once: true })
      if (afterHangupMs !== undefined) {
        if (this.signal.aborted) onHangup()
        else this.signal.addEventListener('abort', onHangup, { once: true })
      }
    })
    // An unobserved rejection after cancel() must not become an unhandled rejection.
    promise.catch(() => {})
    return { promise, cancel: () => cleanup() }
  }

  #listen (): void {
    // Until the close (esl drops every listener then). socket.* stay listeners after esl's own, one bound function for the four.
    routeEvents(this.#esl, CHANNEL_EVENTS, (event, args) => !this.#socketClosed.aborted && this.#onEvent(event, args[0]))
    const closed = this.#onClosed.bind(this)
    for (const e of ['socket.close', 'socket.end', 'socket.error', 'socket.write']) (this.#esl as unknown as EslEmitter).once(e, closed)
  }

  #onEvent (event: string, arg: unknown): boolean {
    const body = (arg as { body?: EventBody } | undefined)?.body ?? {}
    switch (event) {
      case 'DTMF': {
        const digit = body['DTMF-Digit']
        if (digit !== undefined && /^[0-9A-D*#]$/i.test(digit)) for (const l of this.#dtmfListeners) l(digit.toUpperCase())
        return true
      }
      case 'CHANNEL_ANSWER': this.#answered = true; return true
      case 'CHANNEL_BRIDGE': this.#bridged = true; return true
      case 'CHANNEL_HANGUP': this.#hangupCause = body['Hangup-Cause'] ?? this.#hangupCause; break
      case 'CHANNEL_HANGUP_COMPLETE': this.#hangupCause ??= body['Hangup-Cause']; break
      // Linger: FreeSWITCH waits for our `exit` (mod_event_socket.c listener_run); late events get `lingerMs`.
      case 'cleanup_linger': this.#onNotice(); return true
      case 'cleanup_disconnect': this.#onNotice(); this.#esl.end(); return true
      case 'error.invalid-json': this.#log.warn({ err: arg }, 'malformed event from FreeSWITCH ignored'); return true
      case 'error.missing-event-name': this.#log.warn('event without Event-Name ignored'); return true
      case 'error.missing-content-type': this.#log.warn('frame without Content-Type ignored'); return true
      default: return false
    }
    this.#end(() => new CallHangupError(this.#hangupCause))
    return true
  }

  #onNotice (): void {
    this.#end(() => new CallHangupError(this.#hangupCause))
    this.#lingerTimer ??= setTimeout(() => { void this.close() }, this.#opts.lingerMs)
  }

  #onClosed (): void {
    const reason = new PhoneAgentError('ESL_SOCKET_CLOSED', 'Event Socket connection closed')
    this.#end(() => reason)
    this.#socketClosed.abort(reason)
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer)
    this.#dtmfListeners.clear()
    this.#resolveClosed()
  }

  /**
   * End the call's signal with the first reason. The reason is made only then: a refused call sees
   * its end four or five times (hangup, hangup complete, disconnect notice, socket close), and an
   * error's stack capture is most of what such a call costs us after the channel data.
   */
  #end (reason: () => PhoneAgentError): void {
    if (this.#abort.signal.aborted) return
    this.#abort.abort(reason())
    this.#over.abort(this.#abort.signal.reason)
  }
}

/** The subset of esl's emitter we use, with string event names (its typings list only known ones). */
interface EslEmitter {
  once (event: string, handler: (res: { body: EventBody }) => void): unknown
  removeListener (event: string, handler: (res: { body: EventBody }) => void): unknown
}

function translateEslError (err: unknown, command: string): PhoneAgentError {
  const verb = command.split(' ')[0] ?? command
  if (err instanceof PhoneAgentError) return err
  const e = err as { name?: string, constructor?: { name?: string }, message?: string, args?: { reply?: string, when?: string } }
  const kind = e?.constructor?.name ?? e?.name
  if (kind === 'FreeSwitchTimeout') return new PhoneAgentError('ESL_TIMEOUT', `FreeSWITCH did not answer ${verb}`, { cause: err })
  if (kind === 'FreeSwitchError' && e.args?.reply !== undefined) {
    return new PhoneAgentError('ESL_COMMAND_FAILED', `FreeSWITCH refused ${verb}: ${e.args.reply.trim()}`, { cause: err })
  }
  return new PhoneAgentError('ESL_SOCKET_CLOSED', `Event Socket failed during ${verb}`, { cause: err })
}
