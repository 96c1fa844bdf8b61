import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { CallerAudio } from './caller.ts'
import type { ChannelState } from './channel.ts'
import type { ExecutedApp, HangupBy, PlaceCallOptions, PlayedFile, Recording } from './types.ts'
import type { Header, Packet } from './wire.ts'
import { FRAME_MS } from './caller.ts'
import { ChannelMedia } from './media.ts'
import type { UnicastPort } from './unicast.ts'
import { OriginatedLegs } from './legs.ts'
import { runUuidBridge } from './uuid-bridge.ts'
import { frameLoop } from './frame-loop.ts'

/**
 * The channel's session thread: the park loop the `socket` application runs in async mode,
 * the private-event queue `sendmsg` fills, and application execution.
 * Sources: src/switch_ivr.c (switch_ivr_park, switch_ivr_parse_event, switch_ivr_parse_all_events),
 * src/switch_core_session.c (switch_core_session_execute_application_get_flags,
 * switch_core_session_exec, switch_core_session_dequeue_private_event).
 */

/** What the session needs from the Event Socket listener. */
export interface SessionListener {
  fire (name: string, extra?: readonly Header[], body?: string): void
  /**
   * 'hangup': the channel just went down (a listener without linger closes now, before the
   * CHANNEL_HANGUP event reaches its queue). 'settled': the running application has returned
   * (a lingering listener sends its disconnect notice).
   */
  channelDown (phase: 'hangup' | 'settled'): void
}

export type AppStatus = 'done' | 'break' | 'hangup'
export const TRUE_WORDS = new Set(['true', 'yes', 'on', 'enabled', 'active', 'allow', '1'])
export type DtmfPolicy =
  | { kind: 'terminators' } // on_dtmf() in mod_dptools: playback_terminators, default "*"
  | { kind: 'break-keep' } // args without callback: BREAK and leave the digit queued (switch_ivr_sleep)
  | { kind: 'ignore' }
export type App = (s: Session, arg: string) => Promise<void>

/** Applications that run without media; every other one pre-answers first (SAF_SUPPORT_NOMEDIA). */
const NOMEDIA_APPS = new Set(['answer', 'pre_answer', 'ring_ready', 'set', 'multiset', 'export', 'unset', 'hangup',
  'transfer', 'bridge', 'sleep', 'log', 'info', 'noop', 'event'])

export class Session {
  readonly apps: ExecutedApp[] = []
  readonly played: PlayedFile[] = []
  readonly recordings: Recording[] = []
  readonly unexecuted: string[] = []
  readonly dtmf: string[] = []
  hungUpBy: HangupBy | undefined
  transfer: { to: string, dialplan?: string, context?: string, atMs: number } | undefined
  /** CF_CONTROLLED: cleared when the listener ends. */
  controlled = true
  /** CF_BREAK (uuid_break). */
  breakFlag = false
  /** Unicast, displace bugs and what the caller heard. */
  readonly media: ChannelMedia
  /** Legs our server originated over this call's socket. */
  readonly legs: OriginatedLegs
  /** Set by `uuid_bridge`: the leg this channel is being bridged to. */
  uuidBridge: { leg: NonNullable<ReturnType<OriginatedLegs['parked']>>, otherUuid: string } | undefined
  private readonly queue: Packet[] = []
  private readonly waiters = new Set<() => void>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private eventLock = 0
  private depth = 0
  private t0 = Date.now()
  private settledPending = false
  private finished = false
  private downResolve: () => void = () => {}
  /** Resolves when the channel goes down. */
  readonly down = new Promise<void>((resolve) => { this.downResolve = resolve })
  private resetResolve: () => void = () => {}
  /**
   * Resolves when our socket closes with resume on (LFLAG_RESUME or socket_resume=true):
   * listener_run() then sets CS_RESET unless the channel is in CS_HIBERNATE or flagged
   * CF_REDIRECT/CF_TRANSFER/CF_RESET, which a running bridge no longer is, so the bridge breaks
   * and the dialplan goes on after `socket` (mod_event_socket.c listener_run, "done:").
   */
  readonly resetBySocket = new Promise<'reset'>((resolve) => { this.resetResolve = () => { resolve('reset') } })

  constructor (
    readonly channel: ChannelState,
    readonly audio: CallerAudio,
    readonly listener: SessionListener,
    readonly registry: Readonly<Record<string, App>>,
    readonly options: PlaceCallOptions & { baseDir: string },
    readonly log: Logger | undefined,
  ) {
    this.media = new ChannelMedia(channel, audio, () => this.now(), options.unicastCngFrames ?? 3, log, options.unicastEngine, options.writeTimer, options.ptimeMs)
    this.legs = new OriginatedLegs(() => options.bridge, () => this.now())
  }

  /** Milliseconds since our `connect` was answered (the caller timeline's 0). */
  now (): number {
    return Date.now() - this.t0
  }

  setTimeZero (): void {
    this.t0 = Date.now()
  }

  get timeZero (): number {
    return this.t0
  }

  /**
   * switch_channel_ready(): up, and no state change pending (switch_channel_test_ready: state ==
   * running_state, no CF_TRANSFER/CF_REDIRECT): a transfer or a uuid_bridge makes it false.
   */
  get ready (): boolean {
    return !this.channel.hungUp && this.transfer === undefined && this.uuidBridge === undefined
  }

  get busy (): boolean {
    return this.depth > 0
  }

  fire (name: string, extra: readonly Header[] = [], body?: string): void {
    this.listener.fire(name, extra, body)
  }

  wake (): void {
    for (const w of [...this.waiters]) w()
  }

  /** Wait until the wall clock reaches `at` (ms epoch) or something wakes the session. */
  waitUntil (at: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.timers.delete(timer)
        this.waiters.delete(done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(0, Math.min(at - Date.now(), 2 ** 31 - 1)))
      this.timers.add(timer)
      this.waiters.add(done)
    })
  }

  /** A timer owned by the call (cleared when the call ends). */
  later (ms: number, fn: () => void): void {
    const timer = setTimeout(() => { this.timers.delete(timer); fn() }, ms)
    this.timers.add(timer)
  }

  enqueue (packet: Packet): void {
    this.queue.push(packet)
    // The listener thread replies +OK at once; the session thread picks the event up on its
    // next loop, so the reply always precedes the events the command causes.
    this.later(1, () => { this.wake() })
  }

  /** The listener ended (our socket closed); see resetBySocket. */
  socketClosed (): void {
    if (TRUE_WORDS.has((this.channel.variables.get('socket_resume') ?? '').toLowerCase())) this.resetResolve()
  }

  /** uuid_break all also drops what is queued. */
  flushQueue (): void {
    this.queue.length = 0
  }

  queueDtmf (digit: string): void {
    this.dtmf.push(digit)
    this.wake()
  }

  /** switch_core_session_reset(): flush DTMF on request; always deactivates unicast. */
  reset (flushDtmf: boolean): void {
    if (flushDtmf) this.dtmf.length = 0
    this.media.deactivateUnicast('reset')
    this.breakFlag = false
  }

  /** switch_channel_perform_hangup(). */
  hangup (cause: string, by: HangupBy): void {
    if (this.channel.hungUp) return
    const ch = this.channel
    ch.hungUp = true
    ch.hangupCause = cause
    ch.state = 'CS_HANGUP'
    ch.callState = 'HANGUP'
    ch.hungupUs = Date.now() * 1000
    this.media.ear.hangUpAt(this.now())
    ch.variables.set('hangup_cause', cause)
    this.hungUpBy = by
    this.downResolve()
    this.log?.debug({ cause, by }, 'simulated channel hung up')
    this.listener.channelDown('hangup')
    this.fire('CHANNEL_HANGUP')
    this.wake()
    if (this.depth === 0) this.listener.channelDown('settled')
    else this.settledPending = true
  }

  /** socket_function() in async mode: park until control ends, then let the dialplan finish the call. */
  async run (): Promise<void> {
    if (this.ready) {
      this.fire('CHANNEL_PARK')
      await this.park()
      this.fire('CHANNEL_UNPARK')
      this.media.deactivateUnicast('unpark')
    }
    for (const p of this.queue.splice(0)) this.unexecuted.push(p.raw)
    if (!this.channel.hungUp && this.uuidBridge !== undefined) await runUuidBridge(this, this.uuidBridge)
    if (!this.channel.hungUp) {
      if (this.transfer !== undefined) {
        // waitUntil() also returns when something wakes the session: wait out the whole leg.
        const until = Date.now() + (this.options.transferLegMs ?? 500)
        let ended: 'reset' | undefined
        while (ended === undefined && Date.now() < until && !this.channel.hungUp) ended = await Promise.race([this.waitUntil(until).then(() => undefined), this.resetBySocket])
        if (this.channel.hungUp) return
        if (ended === 'reset') this.hangup('NORMAL_CLEARING', 'socket-closed')
        else this.hangup(this.options.transferHangupCause ?? 'NORMAL_CLEARING', 'caller')
      } else {
        // The dialplan has nothing after `socket`: the extension ends and the call with it.
        this.hangup('NORMAL_CLEARING', 'socket-closed')
      }
    }
  }

  /**
   * switch_ivr_park(): run queued commands; once CF_UNICAST is set, read the caller's frames at
   * 20 ms and send each one out. `conninfo` is the loop's local copy of the "unicast" private,
   * taken once: after switch_core_session_reset() closed that connection, a new `unicast` sets
   * CF_UNICAST again, but the loop still holds the dead one, its sendto() fails and the failure
   * deactivates the new connection. So playback or record end unicast for good.
   */
  private async park (): Promise<void> {
    let conninfo: UnicastPort | undefined
    let next = 0
    while (this.ready && this.controlled) {
      if (this.media.unicast !== undefined && conninfo === undefined) {
        if (!this.channel.answered && !this.channel.earlyMedia) this.preAnswer()
        conninfo = this.media.unicast
        conninfo.launch()
        next = this.tickAfter(Date.now())
      }
      // A self-paced connection sends the caller's frames itself: the loop only runs commands.
      if (conninfo !== undefined && !conninfo.selfPaced) {
        // switch_core_session_read_frame() returns when the caller's next frame is complete;
        // commands wait for it. A stalled event loop catches up, as a socket buffer would.
        if (Date.now() < next) { await this.waitUntil(next); continue }
        const index = Math.round((next - this.t0) / FRAME_MS) - 1
        next += FRAME_MS
        if (this.media.unicast !== undefined && !conninfo.sendRead(this.media.readFrame(index), this.media.isCng(index))) this.media.deactivateUnicast('send-failed')
        // An application that ran here read the frames of its own time.
        if (await this.parseAllEvents()) next = Math.max(next, this.tickAfter(Date.now()))
        this.dtmf.length = 0
        continue
      }
      const packet = this.queue.shift()
      if (packet !== undefined) {
        await this.parseEvent(packet)
        continue
      }
      // A digit read with no input callback is dequeued and dropped.
      this.dtmf.length = 0
      await this.waitUntil(Number.POSITIVE_INFINITY)
    }
  }

  /** The first 20 ms frame boundary of the call timeline after `at` (ms epoch). */
  private tickAfter (at: number): number {
    return this.t0 + (Math.floor((at - this.t0) / FRAME_MS) + 1) * FRAME_MS
  }

  /** Runs once the channel is down and no application is running: CS_REPORTING, then destroy. */
  async finish (): Promise<void> {
    if (this.finished) return
    this.finished = true
    // The state machine reaches CS_REPORTING after the session thread unwinds.
    await this.waitUntil(Date.now() + 10)
    this.channel.state = 'CS_REPORTING'
    this.channel.variables.set('billsec', String(this.channel.answeredUs > 0
      ? Math.floor((this.channel.hungupUs - this.channel.answeredUs) / 1e6) : 0))
    this.fire('CHANNEL_HANGUP_COMPLETE')
    this.channel.state = 'CS_DESTROY'
    this.fire('CHANNEL_DESTROY')
  }

  clearTimers (): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.wake()
  }

  /** switch_ivr_parse_all_events(): nested execution unless an event-lock is held. */
  async parseAllEvents (): Promise<boolean> {
    let ran = false
    while (this.eventLock === 0 && this.queue.length > 0 && this.ready) {
      const packet = this.queue.shift() as Packet
      await this.parseEvent(packet)
      ran = true
    }
    return ran
  }

  /** switch_ivr_parse_event(). */
  async parseEvent (packet: Packet): Promise<void> {
    const cmd = (packet.get('call-command') ?? '').toLowerCase()
    const lock = ['true', 'yes', 'on', '1'].includes((packet.get('event-lock') ?? '').toLowerCase())
    if (lock) this.eventLock++
    try {
      if (cmd === 'execute') {
        const name = packet.get('execute-app-name')
        let arg = packet.get('execute-app-arg')
        if ((arg === undefined || arg === '') && packet.get('content-type')?.toLowerCase() === 'text/plain') arg = packet.body
        const loops = Number.parseInt(packet.get('loops') ?? '1', 10) || 1
        if (name === undefined) return
        for (let x = 0; x < loops || loops < 0; x++) {
          const before = Date.now()
          const eventUuid = packet.get('event-uuid')
          if (eventUuid !== undefined) this.channel.variables.set('app_uuid', eventUuid)
          if (!await this.execute(name, arg ?? '')) break
          // switch_ivr_parse_event(): another loop only if this one lasted at least 500 ms.
          if (!this.ready || Date.now() - before < 500) break
        }
      } else if (cmd === 'hangup') {
        this.hangup(packet.get('hangup-cause') ?? 'NORMAL_CLEARING', 'server')
      } else if (cmd === 'unicast') {
        // Not an application: no CHANNEL_EXECUTE, no pre-answer until the park loop sees it.
        await this.media.activateUnicast(packet)
      }
      // nomedia and xferext are not simulated; an unknown call-command is ignored, as in FreeSWITCH.
    } finally {
      if (lock) this.eventLock--
    }
  }

  /** switch_core_session_execute_application() + switch_core_session_exec(). False when the app could not run. */
  async execute (name: string, rawArg: string): Promise<boolean> {
    const vars = this.channel.variables
    const app = this.registry[name.toLowerCase()]
    if (app === undefined) {
      this.log?.debug({ app: name }, 'simulated FreeSWITCH: invalid application')
      this.hangup('DESTINATION_OUT_OF_ORDER', 'server')
      return false
    }
    if (!NOMEDIA_APPS.has(name.toLowerCase()) && !this.channel.answered && !this.channel.earlyMedia) {
      this.preAnswer()
    }
    const appUuid = vars.get('app_uuid') ?? randomUUID()
    vars.delete('app_uuid')
    const arg = this.channel.expand(rawArg)
    vars.set('current_application', name)
    vars.set('current_application_data', arg)
    vars.delete('current_application_response')
    const record: ExecutedApp = { name, arg, appUuid, startMs: this.now(), nested: this.depth > 0 }
    this.apps.push(record)
    this.fire('CHANNEL_EXECUTE', [['Application', name], ['Application-Data', arg], ['Application-UUID', appUuid]])
    this.depth++
    try {
      await app(this, arg)
    } finally {
      this.depth--
    }
    const response = vars.get('current_application_response') ?? '_none_'
    record.endMs = this.now()
    record.response = response
    this.fire('CHANNEL_EXECUTE_COMPLETE', [['Application', name], ['Application-Data', arg],
      ['Application-Response', response], ['Application-UUID', appUuid]])
    if (this.depth === 0 && this.settledPending) {
      this.settledPending = false
      this.listener.channelDown('settled')
    }
    return true
  }

  preAnswer (): void {
    const ch = this.channel
    if (ch.answered || ch.earlyMedia || ch.hungUp) return
    ch.earlyMedia = true
    ch.callState = 'EARLY'
    ch.progressMediaUs = Date.now() * 1000
    this.fire('CHANNEL_PROGRESS_MEDIA')
  }

  answer (): void {
    const ch = this.channel
    if (ch.answered || ch.hungUp) return
    ch.answered = true
    ch.callState = 'ACTIVE'
    ch.answeredUs = Date.now() * 1000
    this.fire('CHANNEL_ANSWER')
  }

  /** The frame loop of playback, record and sleep (frame-loop.ts). */
  async frames (dtmf: DtmfPolicy, onFrame: (frameIndex: number) => 'continue' | 'stop', onDigit?: (d: string) => void): Promise<AppStatus> {
    return await frameLoop(this, dtmf, onFrame, onDigit)
  }

}
