import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { FreeSwitchResponse } from 'esl'
import type { Logger } from 'pino'
import { PhoneAgentError } from '../errors.ts'
import { Channel } from './channel.ts'
import { parseChannelData, type ChannelData } from './channel-data.ts'
import { RoutedResponse } from './routed-response.ts'
import { flatBindings } from './flat-string.ts'
import { HandshakeWatch, setupFailure, type HandshakeFailed, type HandshakeFailure } from './handshake.ts'

/**
 * The outbound Event Socket server: FreeSWITCH's `socket 127.0.0.1:8084 async full` connects
 * here once per call. We send `connect`, check the channel data it returns, build a Channel and
 * hand it to `onCall` while the Channel finishes its setup; the server tracks live channels so
 * shutdown can end them.
 *
 * We accept connections ourselves rather than through esl's FreeSwitchServer: that one sends
 * `filter Unique-ID <value>` with whatever Unique-ID the connect reply carried, before anyone has
 * checked it (a line break in it is a command of its own on the wire), has no handshake deadline,
 * and on a failed handshake only emits `error`, leaving the socket open.
 */

export interface OutboundServerOptions {
  readonly host: string
  readonly port: number
  readonly commandTimeoutMs: number
  readonly lingerMs: number
  /** From accept to a finished setup; a connection still in handshake then is destroyed. */
  readonly handshakeTimeoutMs: number
  /** Connections allowed in handshake at once; more are closed at accept. */
  readonly maxHandshakes: number
  readonly logger: Logger
  /**
   * Runs the call; must not throw (errors are logged here as a last resort). Called as soon as
   * the connect reply is usable, so the call can be recorded: `await channel.setup()` before
   * using the channel (it rejects if the handshake fails from there on).
   */
  readonly onCall: (channel: Channel) => Promise<void>
}

export interface OutboundServer {
  readonly port: number
  readonly host: string
  activeCalls (): number
  /** Stop accepting new connections (calls in progress continue); resolves at once. */
  stopAccepting (): Promise<void>
  /** Resolves when every call in progress has finished. */
  drained (): Promise<void>
  /** Ask every call in progress to end: each says goodbye and hangs up (shutdown past its deadline). */
  endAll (reason: string): Promise<void>
  /** Told of every handshake given up (metrics); returns the unsubscribe function. */
  onHandshakeFailed (listener: (failure: HandshakeFailed) => void): () => void
}

/** esl's own command timeout, behind our deadline, so that the deadline is what fires. */
const CONNECT_BACKSTOP_MS = 1000

export async function startOutboundServer (opts: OutboundServerOptions): Promise<OutboundServer> {
  const log = opts.logger
  // One for every connection: its lines carry no call (esl's own, at trace and debug).
  const eslLog = eslLogger(log)
  // The parent of every call's logger: pino resets the root's bindings formatter in a new
  // formatters object for each child of the root (48 B a call); children of this one share it.
  const callParent = log.child({})
  // The socket options esl's FreeSwitchServer used.
  const server = createServer({ noDelay: true, keepAlive: true })
  const live = new Set<Promise<void>>()
  const channels = new Set<Channel>()
  const failureListeners = new Set<(failure: HandshakeFailed) => void>()
  let handshaking = 0
  let atCapacity = false

  const failed = (failure: HandshakeFailed): void => {
    // One line when the cap is first reached, not one per refused connection of a flood.
    if (failure.reason !== 'over_capacity' || !atCapacity) {
      log.warn({ reason: failure.reason, call: failure.uuid ?? null, handshaking, maxHandshakes: opts.maxHandshakes }, 'event socket handshake failed')
    }
    if (failure.reason === 'over_capacity') atCapacity = true
    for (const l of failureListeners) l(failure)
  }
  const track = (run: Promise<void>): void => {
    const logged = run.catch((err: unknown) => { log.error({ err }, 'call handler failed') })
    live.add(logged)
    void logged.finally(() => live.delete(logged))
  }

  server.on('connection', (socket: Socket) => {
    socket.on('error', ignoreError) // esl listens too; this covers a socket closed before esl sees it
    if (handshaking >= opts.maxHandshakes) {
      socket.destroy()
      failed({ reason: 'over_capacity' })
      return
    }
    handshaking++
    let uuid: string | undefined
    const watch = new HandshakeWatch(socket, opts.handshakeTimeoutMs, (failure) => {
      handshaking--
      if (handshaking < opts.maxHandshakes) atCapacity = false
      if (failure !== undefined) failed(uuid === undefined ? { reason: failure } : { reason: failure, uuid })
    })
    // esl's connection with a slot for the channel's events (routed-response.ts).
    const esl = new RoutedResponse(socket, eslLog)
    track(handshake(socket, esl, watch, opts).then((data) => {
      if (data === undefined) return
      uuid = data.uuid
      return runChannel(esl, data, watch, opts, channels, callParent)
    }))
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: opts.host, port: opts.port }, () => { server.off('error', reject); resolve() })
  })
  server.on('error', (err) => { log.error({ err }, 'event socket server error') })
  const address = server.address() as AddressInfo
  log.info({ host: address.address, port: address.port }, 'outbound event socket listening')

  let stopped = false
  return {
    port: address.port,
    host: address.address,
    activeCalls: () => live.size,
    // close() stops listening at once but calls back only when the last connection is gone:
    // waiting for that would hold shutdown (and its deadline) until every call had ended.
    stopAccepting: async () => { if (!stopped) { stopped = true; server.close() } },
    drained: async () => { while (live.size > 0) await Promise.allSettled([...live]) },
    endAll: async (reason) => {
      const why = new PhoneAgentError('CALL_ABORTED', `call ended by the service (${reason})`)
      await Promise.allSettled([...channels].map(async (c) => { await c.requestEnd(why) }))
    },
    onHandshakeFailed: (listener) => {
      failureListeners.add(listener)
      return () => failureListeners.delete(listener)
    },
  }
}

/** One function for every connection's error listener, not an arrow each. */
function ignoreError (): void {}

/** `connect` and a usable reply, within the watch's limits; undefined when the connection is given up. */
async function handshake (socket: Socket, esl: FreeSwitchResponse, watch: HandshakeWatch, opts: OutboundServerOptions): Promise<ChannelData | undefined> {
  let body: Record<string, string | undefined>
  try {
    const reply = await esl.send('connect', {}, opts.handshakeTimeoutMs + CONNECT_BACKSTOP_MS)
    body = reply.body ?? {}
  } catch {
    watch.fail('closed')
    return undefined
  }
  try {
    return parseChannelData(body)
  } catch (err) {
    // Without a valid UUID we cannot address events or files to this call, and nothing of the
    // value goes back on the wire. Say no (a hangup) and leave.
    opts.logger.warn({ err, callerNumber: body['Caller-Caller-ID-Number'] }, 'connect reply unusable, refusing call')
    await refuse(esl, socket, opts.commandTimeoutMs)
    watch.fail('invalid_reply')
    return undefined
  }
}

async function runChannel (esl: FreeSwitchResponse, data: ChannelData, watch: HandshakeWatch, opts: OutboundServerOptions, channels: Set<Channel>, callParent: Logger): Promise<void> {
  // Turns the disconnect notice into cleanup_linger / cleanup_disconnect, which Channel follows
  // (esl's FreeSwitchServer called it for every connection).
  esl.auto_cleanup()
  const channel = new Channel(esl, data, {
    commandTimeoutMs: opts.commandTimeoutMs,
    lingerMs: opts.lingerMs,
    // Flat bindings: a tree of five strings a call otherwise (flat-string.ts).
    logger: flatBindings(callParent.child({ call: data.uuid })),
  })
  channel.setup().then(() => { watch.done() }, (err: unknown) => { watch.fail(setupFailure(err)) })
  channels.add(channel)
  // Chained, not awaited in a try/finally: this frame (a generator and its registers, ~250 B)
  // would otherwise wait out the whole call. The handler's promise is taken as it is thrown too.
  let call: Promise<void>
  try {
    call = opts.onCall(channel)
  } catch (err) {
    call = Promise.reject(err)
  }
  return call.finally(async () => {
    channels.delete(channel)
    await channel.close()
  })
}

/**
 * Hang the channel up and let FreeSWITCH close the socket. Not `exit`: in async mode the hangup
 * is queued for the session thread (parse_command "sendmsg"), and an `exit` right behind it can
 * end the listener first, so the dialplan goes on after `socket` instead. Without linger,
 * read_packet() ends the listener as soon as the channel is down and listener_run() closes the
 * socket (mod_event_socket.c); we wait for that, up to `timeoutMs`.
 */
async function refuse (esl: FreeSwitchResponse, socket: Socket, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => { socket.once('close', () => { resolve() }) })
  let timer: NodeJS.Timeout | undefined
  try {
    await esl.send('sendmsg', { 'call-command': 'hangup', 'hangup-cause': 'NORMAL_TEMPORARY_FAILURE' }, timeoutMs)
    await Promise.race([closed, new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })])
  } catch {
    // The socket is going away either way.
  } finally {
    clearTimeout(timer)
  }
}

/** esl logs every closed-socket wait at error level; those are normal hangups for us. */
function eslLogger (log: Logger): { debug: (m: string, d?: unknown) => void, info: (m: string, d?: unknown) => void, error: (m: string, d?: unknown) => void } {
  const child = log.child({ module: 'esl' })
  // Methods, not arrow functions: under tsx each named arrow made per connection gets a `name`
  // of its own (esbuild's keepNames), a 256-byte property dictionary. None uses `this`.
  return {
    debug () {},
    info (msg) { child.trace(msg) },
    error (msg, data) { child.debug({ data: safeData(data) }, msg) },
  }
}

function safeData (data: unknown): unknown {
  if (data instanceof Error) return { message: data.message }
  return typeof data === 'object' && data !== null ? Object.keys(data) : data
}

export type { HandshakeFailed, HandshakeFailure }
