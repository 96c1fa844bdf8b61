import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { ChannelState } from './channel.ts'
import { prepHeaders, Subscription } from './events.ts'
import type { Session, SessionListener } from './session.ts'
import type { FiredEvent } from './types.ts'
import {
  apiResponseFrame, commandReplyFrame, disconnectFrame, eventFrame, lingerFrame, PacketReader,
  serializeJson, serializePlain, serializeXml, type Header, type Packet,
} from './wire.ts'

/**
 * One outbound Event Socket listener, as mod_event_socket.c runs it for `socket HOST:PORT async full`:
 * listener_run() (first packet without a reply unless it is `connect`), parse_command()
 * (commands matched by prefix, in FreeSWITCH's order), read_packet() (event frames, the linger
 * notice once the channel is down, the linger timeout) and send_disconnect().
 */
export class Listener implements SessionListener {
  readonly sub = new Subscription()
  readonly commands: string[] = []
  readonly written: string[] = []
  readonly events: FiredEvent[] = []
  connected = false
  exitReceived = false
  lingerOn = false
  /** listener->linger_timeout: -1 waits for `exit` forever. */
  lingerTime = -1
  private open = true
  private first = true
  private handleDisco = false
  private logging = false
  private session: Session | undefined
  private readonly reader = new PacketReader()
  private chain: Promise<void> = Promise.resolve()
  private closedResolve: () => void = () => {}
  readonly closed = new Promise<void>((resolve) => { this.closedResolve = resolve })

  constructor (
    private readonly socket: Socket,
    private readonly channel: ChannelState,
    private readonly opts: { coreUuid: string, async: boolean, full: boolean, omitHeaders: readonly string[], t0: () => number },
    private readonly onConnect: () => void,
    private readonly log: Logger | undefined,
  ) {
    socket.on('data', (data: Buffer) => {
      for (const packet of this.reader.push(data)) {
        this.chain = this.chain.then(() => this.handle(packet)).catch((err: unknown) => {
          this.log?.error({ err }, 'simulated FreeSWITCH failed on a command')
        })
      }
    })
    const gone = (): void => { this.lost() }
    socket.on('end', gone)
    socket.on('close', gone)
    socket.on('error', (err) => { this.log?.debug({ err }, 'simulated FreeSWITCH socket error'); gone() })
  }

  attach (session: Session): void {
    this.session = session
  }

  get isOpen (): boolean {
    return this.open
  }

  private write (frame: string): void {
    if (!this.open || this.socket.destroyed || !this.socket.writable) return
    this.written.push(frame)
    this.socket.write(frame)
  }

  private async handle (packet: Packet): Promise<void> {
    this.commands.push(packet.body === undefined ? packet.raw : packet.raw + packet.body)
    if (!this.open) return
    const first = this.first
    this.first = false
    const { reply, stop } = await this.parseCommand(packet)
    // listener_run(): the first packet on a session listener is parsed but its reply is never sent.
    if (reply !== undefined && !first) this.write(commandReplyFrame(reply))
    if (stop) this.close()
  }

  private async parseCommand (p: Packet): Promise<{ reply?: string, stop?: boolean }> {
    const cmd = p.command
    const lower = cmd.toLowerCase()
    const s = this.session
    if (cmd === '') return { reply: '-ERR command parse error.', stop: true }
    if (lower.startsWith('exit') || lower.startsWith('...')) {
      this.exitReceived = true
      return { reply: '+OK bye', stop: true }
    }
    if (lower.startsWith('filter ')) return { reply: this.sub.filter(cmd) }
    if (lower.startsWith('resume')) {
      this.channel.variables.set('socket_resume', 'true')
      return { reply: '+OK' }
    }
    if (lower.startsWith('connect')) {
      this.sendConnectReply()
      return {}
    }
    if (lower.startsWith('getvar')) {
      const sp = cmd.indexOf(' ')
      const value = sp < 0 ? '' : this.channel.variables.get(cmd.slice(sp + 1)) ?? ''
      return { reply: value === '' ? '-ERR command not found' : value }
    }
    if (lower.startsWith('myevents')) return { reply: this.sub.myevents(p.raw) }
    if (lower.startsWith('divert_events')) {
      const onoff = cmd.slice(13).trim()
      if (onoff === '') return { reply: '-ERR missing value.' }
      return { reply: onoff.toLowerCase() === 'on' ? '+OK events diverted' : '+OK events not diverted' }
    }
    if (lower.startsWith('sendmsg')) {
      // +OK once queued (async) or parsed, whatever the command then does (mod_event_socket.c
      // parse_command "sendmsg"): a unicast whose bind fails is answered +OK all the same.
      let uuid: string | undefined = cmd.slice(7).trim()
      if (uuid === '') uuid = p.get('session-id')
      if (uuid === this.channel.uuid) uuid = undefined
      if (uuid !== undefined && uuid !== '') return { reply: `-ERR invalid session id [${uuid}]` }
      if (s === undefined) return { reply: '-ERR memory error' }
      const async = this.opts.async || ['true', 'yes', 'on', '1'].includes((p.get('async') ?? '').toLowerCase())
      if (async) {
        s.enqueue(p)
      } else {
        await s.parseEvent(p)
      }
      return { reply: '+OK' }
    }
    if (!this.opts.full) return { reply: '-ERR command not found' }
    if (lower.startsWith('sendevent')) return { reply: `+OK ${randomUUID()}` }
    if (lower.startsWith('api ')) {
      // A blocking api (originate) holds the listener thread: nothing else is read meanwhile.
      this.write(apiResponseFrame(await this.api(cmd.slice(4))))
      return {}
    }
    if (lower.startsWith('bgapi ')) {
      const line = cmd.slice(6)
      const job = p.get('job-uuid') ?? randomUUID()
      const sp = line.indexOf(' ')
      setImmediate(async () => {
        const result = await this.api(line)
        const headers: Header[] = [['Job-UUID', job], ['Job-Command', sp < 0 ? line : line.slice(0, sp)]]
        if (sp >= 0) headers.push(['Job-Command-Arg', line.slice(sp + 1)])
        headers.push(['Job-Owner-UUID', this.channel.uuid])
        this.fireRaw('BACKGROUND_JOB', headers, result === '' ? 'Command returned no output!' : result)
      })
      return { reply: `~Reply-Text: +OK Job-UUID: ${job}\nJob-UUID: ${job}\n\n` }
    }
    if (lower.startsWith('log')) {
      this.logging = true
      const level = cmd.slice(4).trim()
      return { reply: `+OK log level ${level === '' ? '' : level} [7]` }
    }
    if (lower.startsWith('linger')) {
      this.lingerOn = true
      this.lingerTime = cmd[6] === ' ' && (cmd[7] ?? '') !== '' ? Number.parseInt(cmd.slice(7), 10) || 0 : -1
      return { reply: this.lingerTime !== -1 ? `+OK will linger ${this.lingerTime} seconds` : '+OK will linger' }
    }
    if (lower.startsWith('nolinger')) {
      this.lingerOn = false
      return { reply: '+OK will not linger' }
    }
    if (lower.startsWith('nolog')) {
      const was = this.logging
      this.logging = false
      return { reply: was ? '+OK no longer logging' : '-ERR not loging' }
    }
    if (lower.startsWith('event')) return { reply: this.sub.event(cmd) }
    if (lower.startsWith('nixevent')) return { reply: this.sub.nixevent(cmd) }
    if (lower.startsWith('noevents')) return { reply: this.sub.noevents() }
    return { reply: '-ERR command not found' }
  }

  /** The few API commands a call-control server uses on its own channel and the legs it originates. */
  private async api (line: string): Promise<string> {
    const [name = '', uuid, ...rest] = line.split(' ')
    const s = this.session
    const own = uuid === this.channel.uuid && s !== undefined && !this.channel.hungUp
    if (s !== undefined) {
      if (name === 'originate') return await s.legs.originate(line.slice(name.length + 1))
      // hupall_api_function: a cause, then variable/value pairs that must all match.
      if (name === 'hupall') {
        const args = line.split(' ').slice(1)
        const match: Record<string, string> = {}
        for (let i = 1; i + 1 < args.length; i += 2) match[args[i] as string] = args[i + 1] as string
        const cause = (args[0] ?? 'MANAGER_REQUEST').toUpperCase()
        if (Object.keys(match).length === 0) {
          // Every channel on the switch: the simulated call included.
          s.legs.hupall(cause, {})
          s.hangup(cause, 'server')
          return `+OK hangup all channels with cause ${cause}\n`
        }
        s.legs.hupall(cause, match)
        const [k, v] = Object.entries(match)[0] as [string, string]
        return `+OK hangup all channels matching [${k}]=[${v}] with cause: ${cause}\n`
      }
      if (name === 'uuid_kill' && uuid !== this.channel.uuid) return s.legs.kill(uuid ?? '', (rest[0] ?? 'NORMAL_CLEARING').toUpperCase())
      if (name === 'uuid_bridge') {
        // uuid_bridge_function -> switch_ivr_uuid_bridge(): both channels must exist.
        const leg = s.legs.parked(rest[0] ?? '')
        if (!own || leg === undefined || s.uuidBridge !== undefined) return '-ERR Invalid uuid\n'
        s.uuidBridge = { leg, otherUuid: rest[0] as string }
        s.wake()
        return `+OK ${rest[0] as string}\n`
      }
    }
    switch (name) {
      case 'uuid_exists': return own ? 'true' : 'false'
      case 'uuid_break':
      case 'uuid_kill':
      case 'uuid_getvar':
      case 'uuid_setvar':
      case 'uuid_answer':
        if (!own || s === undefined) return '-ERR No such channel!\n'
        if (name === 'uuid_break') {
          if (rest[0] === 'all') s.flushQueue()
          if (s.busy) { s.breakFlag = true; s.wake() }
          return '+OK\n'
        }
        if (name === 'uuid_kill') { s.hangup(rest[0] ?? 'NORMAL_CLEARING', 'server'); return '+OK\n' }
        if (name === 'uuid_answer') { s.answer(); return '+OK\n' }
        if (name === 'uuid_getvar') return this.channel.variables.get(rest[0] ?? '') ?? '_undef_'
        if (rest[1] === undefined) this.channel.variables.delete(rest[0] ?? '')
        else this.channel.variables.set(rest[0] ?? '', rest.slice(1).join(' '))
        return '+OK\n'
      default:
        return `-ERR ${name} Command not found!\n`
    }
  }

  /** parse_command() "connect": the channel data serialized as a command/reply, no Content-Length. */
  private sendConnectReply (): void {
    this.connected = true
    const omit = new Set(this.opts.omitHeaders.map((h) => h.toLowerCase()))
    const headers: Header[] = [
      ...prepHeaders('CHANNEL_DATA', this.opts.coreUuid, ['mod_event_socket.c', 'parse_command', 1786]),
      ...this.channel.profileHeaders('Channel'),
      ...this.channel.eventData('CHANNEL_DATA'),
      ['Content-Type', 'command/reply'],
      ['Reply-Text', '+OK\n'],
      ['Socket-Mode', this.opts.async ? 'async' : 'static'],
      ['Control', this.opts.full ? 'full' : 'single-channel'],
    ]
    this.write(serializePlain(headers.filter(([n]) => !omit.has(n.toLowerCase()))))
    this.onConnect()
  }

  fire (name: string, extra: readonly Header[] = [], body?: string): void {
    this.fireRaw(name, [...this.channel.eventData(name), ...extra], body)
  }

  private fireRaw (name: string, data: readonly Header[], body?: string): void {
    const headers = [...prepHeaders(name, this.opts.coreUuid, CALLING[name] ?? ['switch_channel.c', 'switch_channel_event', 1]), ...data]
    const delivered = this.open && this.connected && this.sub.accepts(name, headers, this.channel.uuid)
    const format = this.sub.format
    if (delivered) {
      const ebuf = format === 'json' ? serializeJson(headers, body) : format === 'xml' ? serializeXml(headers, body) : serializePlain(headers, body)
      this.write(eventFrame(ebuf, format))
    }
    this.events.push({ name, atMs: this.opts.t0(), headers, body, delivered, format: delivered ? format : undefined })
  }

  channelDown (phase: 'hangup' | 'settled'): void {
    if (!this.open || this.handleDisco) return
    if (!this.lingerOn) {
      if (phase === 'hangup') { this.handleDisco = true; this.close() }
      return
    }
    if (phase !== 'settled') return
    this.handleDisco = true
    this.write(lingerFrame(this.channel.uuid, this.channel.profile.channelName, this.lingerTime))
    if (this.lingerTime !== -1) {
      // read_packet(): `switch_epoch_time_now(NULL) > listener->linger_timeout`, in whole seconds.
      const deadline = (Math.floor(Date.now() / 1000) + this.lingerTime + 1) * 1000
      this.session?.later(deadline - Date.now(), () => { this.close() })
    }
  }

  /** listener_run() "done": send_disconnect() while the socket exists, then close it. */
  close (): void {
    if (!this.open) return
    this.write(disconnectFrame(this.channel.uuid))
    this.open = false
    this.socket.end()
    this.ended()
  }

  /** The TCP connection died under us (our server closed it, or dropSocket()). */
  lost (): void {
    if (!this.open) return
    this.open = false
    this.ended()
  }

  drop (): void {
    if (!this.open) { this.socket.destroy(); return }
    this.open = false
    this.socket.resetAndDestroy()
    this.ended()
  }

  sendRaw (text: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(text)
  }

  private ended (): void {
    if (this.session !== undefined) {
      this.session.controlled = false
      this.session.socketClosed()
      this.session.wake()
    }
    this.closedResolve()
  }
}

const CALLING: Record<string, [string, string, number]> = {
  CHANNEL_EXECUTE: ['switch_core_session.c', 'switch_core_session_exec', 2920],
  CHANNEL_EXECUTE_COMPLETE: ['switch_core_session.c', 'switch_core_session_exec', 2960],
  CHANNEL_HANGUP: ['switch_channel.c', 'switch_channel_perform_hangup', 3510],
  CHANNEL_HANGUP_COMPLETE: ['switch_core_state_machine.c', 'switch_core_session_reporting_state', 940],
  CHANNEL_ANSWER: ['switch_channel.c', 'switch_channel_perform_mark_answered', 3850],
  PLAYBACK_START: ['switch_ivr_play_say.c', 'switch_ivr_play_file', 1510],
  PLAYBACK_STOP: ['switch_ivr_play_say.c', 'switch_ivr_play_file', 1960],
  RECORD_START: ['switch_ivr_play_say.c', 'switch_ivr_record_file', 700],
  RECORD_STOP: ['switch_ivr_play_say.c', 'switch_ivr_record_file', 1050],
  DTMF: ['switch_channel.c', 'switch_channel_queue_dtmf', 480],
  BACKGROUND_JOB: ['mod_event_socket.c', 'api_exec', 1570],
}
