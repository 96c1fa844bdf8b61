import type { AddressInfo } from 'node:net'
import { FreeSwitchServer, type FreeSwitchResponse } from 'esl'
import type { Logger } from 'pino'
import { PhoneAgentError } from '../errors.ts'
import { Channel } from './channel.ts'
import { parseChannelData } from './channel-data.ts'

/**
 * The outbound Event Socket server: FreeSWITCH's `socket 127.0.0.1:8084 async full` connects
 * here once per call. We accept, build a Channel from the connect reply, and hand it to
 * `onCall`; the server tracks live channels so shutdown can end them.
 */

export interface OutboundServerOptions {
  readonly host: string
  readonly port: number
  readonly commandTimeoutMs: number
  readonly lingerMs: number
  readonly logger: Logger
  /** Runs the call; must not throw (errors are logged here as a last resort). */
  readonly onCall: (channel: Channel) => Promise<void>
}

export interface OutboundServer {
  readonly port: number
  readonly host: string
  activeCalls (): number
  /** Stop accepting new connections (calls in progress continue). */
  stopAccepting (): Promise<void>
  /** Resolves when every call in progress has finished. */
  drained (): Promise<void>
  /** Ask every call in progress to end: each says goodbye and hangs up (shutdown past its deadline). */
  endAll (reason: string): Promise<void>
}

export async function startOutboundServer (opts: OutboundServerOptions): Promise<OutboundServer> {
  const log = opts.logger
  const server = new FreeSwitchServer({
    // Only the events we use, filtered on this call's Unique-ID (esl then sends
    // `filter Unique-ID <uuid>`); Channel.setup() adds the rest of our list.
    all_events: false,
    my_events: true,
    logger: eslLogger(log),
  })
  const live = new Set<Promise<void>>()
  const channels = new Set<Channel>()

  server.on('connection', (esl: FreeSwitchResponse, info: { body: Record<string, string | undefined> }) => {
    const run = handleConnection(esl, info.body ?? {}, opts, channels).catch((err: unknown) => {
      log.error({ err }, 'call handler failed')
    })
    live.add(run)
    void run.finally(() => live.delete(run))
  })
  // esl reports a connection whose handshake failed (no connect reply, socket died) here.
  server.on('error', (err: Error) => { log.warn({ err }, 'event socket connection failed') })

  await server.listen({ host: opts.host, port: opts.port })
  const address = (server as unknown as { __server: { address (): AddressInfo } }).__server.address()
  log.info({ host: address.address, port: address.port }, 'outbound event socket listening')

  let stopped: Promise<void> | undefined
  return {
    port: address.port,
    host: address.address,
    activeCalls: () => live.size,
    stopAccepting: async () => { stopped ??= server.close(); await stopped },
    drained: async () => { while (live.size > 0) await Promise.allSettled([...live]) },
    endAll: async (reason) => {
      const why = new PhoneAgentError('CALL_ABORTED', `call ended by the service (${reason})`)
      await Promise.allSettled([...channels].map(async (c) => { await c.requestEnd(why) }))
    },
  }
}

async function handleConnection (esl: FreeSwitchResponse, body: Record<string, string | undefined>, opts: OutboundServerOptions, channels: Set<Channel>): Promise<void> {
  let data
  try {
    data = parseChannelData(body)
  } catch (err) {
    // Without a UUID we cannot address events or files to this call. Say no and leave: dropping
    // the socket makes FreeSWITCH hang the channel up (mod_event_socket.c, listener_run end).
    opts.logger.warn({ err, callerNumber: body['Caller-Caller-ID-Number'] }, 'connect reply unusable, refusing call')
    await refuse(esl, opts.commandTimeoutMs)
    return
  }
  const channel = new Channel(esl, data, {
    commandTimeoutMs: opts.commandTimeoutMs,
    lingerMs: opts.lingerMs,
    logger: opts.logger.child({ call: data.uuid }),
  })
  channels.add(channel)
  try {
    try {
      await channel.setup()
    } catch (err) {
      opts.logger.warn({ err, call: data.uuid }, 'call setup failed')
      return
    }
    await opts.onCall(channel)
  } finally {
    channels.delete(channel)
    await channel.close()
  }
}

async function refuse (esl: FreeSwitchResponse, timeoutMs: number): Promise<void> {
  try {
    await esl.send('sendmsg', { 'call-command': 'hangup', 'hangup-cause': 'NORMAL_TEMPORARY_FAILURE' }, timeoutMs)
    await esl.send('exit', {}, timeoutMs)
  } catch {
    // The socket is going away either way.
  } finally {
    esl.end()
  }
}

/** esl logs every closed-socket wait at error level; those are normal hangups for us. */
function eslLogger (log: Logger): { debug: (m: string, d?: unknown) => void, info: (m: string, d?: unknown) => void, error: (m: string, d?: unknown) => void } {
  const child = log.child({ module: 'esl' })
  return {
    debug: () => {},
    info: (msg) => { child.trace(msg) },
    error: (msg, data) => { child.debug({ data: safeData(data) }, msg) },
  }
}

function safeData (data: unknown): unknown {
  if (data instanceof Error) return { message: data.message }
  return typeof data === 'object' && data !== null ? Object.keys(data) : data
}

