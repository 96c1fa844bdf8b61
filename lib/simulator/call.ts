import { randomUUID } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import type { Logger } from 'pino'
import { APPLICATIONS } from './apps.ts'
import { CallerAudio } from './caller.ts'
import { ChannelState } from './channel.ts'
import { conversationWav, type CallerEar } from './ear.ts'
import { Listener } from './listener.ts'
import { Session } from './session.ts'
import type { CallResult, PlaceCallOptions } from './types.ts'
import type { UnicastRecord } from './unicast.ts'

const DTMF_DIGITS = /^[0-9*#A-Da-d]$/

/**
 * One inbound call that FreeSWITCH routes to `socket HOST:PORT async full`: the TCP client side
 * of the outbound Event Socket, the channel behind it, and a scripted caller.
 * Time 0 of every `atMs` is the moment our server's `connect` is answered.
 */
export class SimulatedCall {
  readonly uuid: string
  readonly ended: Promise<CallResult>
  private readonly channel: ChannelState
  private readonly session: Session
  private readonly listener: Listener
  private readonly socket: Socket
  private connectedAt: number | undefined
  private endedAtMs = 0

  constructor (private readonly opts: PlaceCallOptions & { baseDir: string }, coreUuid: string, private readonly log: Logger | undefined) {
    this.uuid = opts.uuid ?? randomUUID()
    const callerNumber = opts.callerNumber ?? '+393331234567'
    const destination = opts.destination ?? '+390212345678'
    // mod_sofia sets the caller profile's network_addr and the sip_network_ip variable both to
    // the INVITE's source address (sofia.c, sofia_handle_sip_i_invite: sofia_glue_get_addr).
    const sourceIp = opts.sourceIp ?? '192.0.2.10'
    this.channel = new ChannelState({
      uuid: this.uuid,
      callerNumber,
      callerName: opts.callerName ?? '',
      destination,
      networkAddr: sourceIp,
      channelName: `sofia/external/${callerNumber}@192.0.2.10`,
    })
    const host = opts.host ?? '127.0.0.1'
    const mode = opts.socketMode ?? 'async full'
    const v = this.channel.variables
    for (const [name, value] of Object.entries({
      direction: 'inbound', uuid: this.uuid, session_id: '1', sip_network_ip: sourceIp, sip_network_port: '5060', sip_from_user: callerNumber,
      sip_from_uri: `${callerNumber}@192.0.2.10`, sip_from_host: '192.0.2.10', sip_to_user: destination,
      sip_to_uri: `${destination}@192.0.2.1`, sip_to_host: '192.0.2.1', sip_req_user: destination,
      sip_req_uri: `${destination}@192.0.2.1`, sip_req_host: '192.0.2.1', sip_call_id: `${randomUUID()}@192.0.2.10`,
      caller_id_name: opts.callerName ?? '', caller_id_number: callerNumber, destination_number: destination,
      socket_host: host, current_application: 'socket', current_application_data: `${host}:${opts.port} ${mode}`.trim(),
      ...opts.variables,
    })) v.set(name, value)

    if (opts.answeredBeforeSocket === true) {
      this.channel.answered = true
      this.channel.callState = 'ACTIVE'
      this.channel.answeredUs = Date.now() * 1000
    }
    const audio = new CallerAudio()
    // Checked before the socket opens: a bad echo setting throws here and leaks nothing.
    if (opts.caller?.echo !== undefined) audio.echo(opts.caller.echo, () => this.session.media.ear)
    this.socket = connect({ host, port: opts.port })
    this.socket.setNoDelay(true)
    this.listener = new Listener(this.socket, this.channel, {
      coreUuid, async: mode.includes('async'), full: mode.includes('full'), omitHeaders: opts.omitHeaders ?? [],
      t0: () => this.session.now(),
    }, () => { this.onConnected() }, log)
    this.session = new Session(this.channel, audio, this.listener, APPLICATIONS, opts, log)
    this.listener.attach(this.session)
    for (const clip of opts.caller?.audio ?? []) audio.add(clip.atMs, clip.wav)
    for (const gap of [...opts.caller?.rtpGaps ?? [], ...opts.caller?.hold ?? []]) audio.addGap(gap.atMs, gap.durationMs)
    for (const late of opts.caller?.rtpLate ?? []) audio.addLate(late.atMs, late.lateMs)

    this.session.later(opts.maxCallMs ?? 600_000, () => { this.session.hangup('NORMAL_CLEARING', 'timeout') })
    // listener_run(): read_packet(listener, &ievent, 25) for the first command.
    this.session.later(opts.connectTimeoutMs ?? 25_000, () => { if (!this.listener.connected) this.listener.close() })
    this.socket.once('error', (err) => {
      // socket_function(): "Socket Error!" and the dialplan moves on past `socket`.
      if (!this.listener.connected) { this.log?.debug({ err }, 'simulated FreeSWITCH could not connect'); this.session.hangup('NORMAL_CLEARING', 'socket-closed') }
    })
    this.ended = this.lifecycle()
  }

  private connectedResolve: () => void = () => {}
  private readonly connectedOnce = new Promise<void>((resolve) => { this.connectedResolve = resolve })

  private onConnected (): void {
    if (this.connectedAt !== undefined) return
    this.connectedAt = Date.now()
    this.session.setTimeZero()
    const script = this.opts.caller
    for (const d of script?.dtmf ?? []) this.session.later(d.atMs, () => { this.sendDtmf(d.digit) })
    if (script?.hangupAtMs !== undefined) this.session.later(script.hangupAtMs, () => { this.hangup() })
    this.connectedResolve()
  }

  private async lifecycle (): Promise<CallResult> {
    const hungUp = this.session.down
    await Promise.race([this.connectedOnce, hungUp, this.listener.closed])
    if (this.connectedAt !== undefined && !this.channel.hungUp) await this.session.run()
    else if (!this.channel.hungUp) {
      // Never connected: socket_function() spins until the channel goes down.
      await hungUp
    }
    await hungUp
    await this.session.finish()
    await this.session.media.close()
    await this.listener.closed
    this.endedAtMs = this.session.now()
    this.session.clearTimers()
    this.session.legs.dispose()
    if (!this.socket.destroyed) this.socket.destroy()
    return this.result
  }

  /** The caller hangs up now. */
  hangup (cause = 'NORMAL_CLEARING'): void {
    this.session.hangup(cause, 'caller')
  }

  /** The caller presses a key: a DTMF event now, and the digit queued for the running application. */
  sendDtmf (digit: string): void {
    if (!DTMF_DIGITS.test(digit) || this.channel.hungUp) return
    this.session.fire('DTMF', [['DTMF-Digit', digit.toUpperCase()], ['DTMF-Duration', '2000'], ['DTMF-Source', 'RTP']])
    this.session.queueDtmf(digit.toUpperCase())
  }

  /** The TCP connection dies abruptly (RST): no disconnect notice. */
  dropSocket (): void {
    this.listener.drop()
  }

  /** Raw bytes to our server, for malformed-frame tests. */
  sendRaw (text: string | Buffer): void {
    this.listener.sendRaw(text)
  }

  /** Speech the caller says from `atMs` on (call timeline), e.g. injected mid-call. */
  say (atMs: number, wav: string | Buffer): void {
    this.session.audio.add(atMs, wav)
  }

  /** The caller's RTP stops for `durationMs` from `atMs` (call timeline), as `caller.rtpGaps`. */
  rtpGap (atMs: number, durationMs: number): void {
    this.session.audio.addGap(atMs, durationMs)
  }

  /** The caller's packets from `atMs` on arrive `lateMs` late, as `caller.rtpLate`. */
  rtpLate (atMs: number, lateMs: number): void {
    this.session.audio.addLate(atMs, lateMs)
  }

  /** What the caller heard so far (our unicast frames and played files), with timings. */
  get ear (): CallerEar { return this.session.media.ear }
  /** The unicast connection CF_UNICAST refers to now, if any. */
  get unicast (): UnicastRecord | undefined { return this.session.media.unicast?.record }
  /** Frames of ours FreeSWITCH holds that the caller has not heard yet. */
  get unicastQueueDepth (): number { return this.session.media.ear.queueDepth(this.session.now()) }

  /**
   * The conversation as a stereo 8 kHz 16-bit WAV: caller left, what the caller heard right,
   * from time 0 to `durationMs` (default: now, or the end of the call).
   */
  conversationWav (durationMs?: number): Buffer {
    const end = durationMs ?? (this.endedAtMs > 0 ? this.endedAtMs : this.session.now())
    return conversationWav(this.session.audio, this.session.media.ear, end)
  }

  get commands (): readonly string[] { return this.listener.commands }
  get events (): CallResult['events'] { return this.listener.events }
  get apps (): CallResult['apps'] { return this.session.apps }
  get answered (): boolean { return this.channel.answered }
  get hungUp (): boolean { return this.channel.hungUp }
  /** Milliseconds on the call timeline (0 = connect answered). */
  get nowMs (): number { return this.session.now() }

  get result (): CallResult {
    const l = this.listener
    const s = this.session
    return {
      uuid: this.uuid,
      commands: [...l.commands],
      connected: l.connected,
      answered: this.channel.answered,
      hangupCause: this.channel.hangupCause,
      hungUpBy: s.hungUpBy,
      exitReceived: l.exitReceived,
      linger: l.lingerOn,
      apps: s.apps.map((a) => ({ ...a })),
      played: s.played.map((p) => ({ ...p })),
      recordings: s.recordings.map((r) => ({ ...r })),
      events: [...l.events],
      variables: Object.fromEntries(this.channel.variables),
      transfer: s.transfer,
      unexecuted: [...s.unexecuted],
      written: [...l.written],
      unicast: s.media.unicastRecords.map((u) => ({ ...u })),
      heard: [...s.media.ear.heard],
      legs: s.legs.records.map((r) => ({ ...r })),
      orphanLegs: s.legs.up.map((r) => ({ ...r })),
      endedAtMs: this.endedAtMs,
    }
  }
}
