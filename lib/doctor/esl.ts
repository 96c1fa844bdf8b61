import { Socket } from 'node:net'
import { FreeSwitchResponse } from 'esl'
import { PhoneAgentError } from '../errors.ts'
import { assertEslValue } from '../freeswitch/safe-value.ts'

/**
 * A connection to FreeSWITCH's inbound Event Socket (mod_event_socket's listener_run(): it
 * sends `Content-Type: auth/request`, takes `auth <password>` and answers a command/reply with
 * `Reply-Text: +OK accepted` or `-ERR invalid` (parse_command), then runs `api <cmd>` and
 * answers `Content-Type: api/response` with the output as body (api_exec)). The only place the
 * doctor touches the `esl` package; every wait has its own timeout, and a closed socket
 * rejects what is pending.
 */

export interface InboundEsl {
  /** The command's output, `-ERR ...` included (an api that fails still answered). */
  api (command: string): Promise<string>
  close (): void
}

export interface ConnectOptions {
  readonly host: string
  readonly port: number
  readonly password: string
  readonly timeoutMs: number
}

const quiet = { debug: () => {}, info: () => {}, error: () => {} }

function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new PhoneAgentError('ESL_TIMEOUT', `no answer to ${what} within ${ms} ms`)) }, ms)
  })
  return Promise.race([p, timeout]).finally(() => { clearTimeout(timer) })
}

export async function connectInbound (o: ConnectOptions): Promise<InboundEsl> {
  const socket = new Socket()
  const closed = new Promise<never>((_resolve, reject) => {
    socket.once('close', () => { reject(new PhoneAgentError('ESL_SOCKET_CLOSED', `FreeSWITCH closed the Event Socket connection to ${o.host}:${o.port}`)) })
  })
  closed.catch(() => {})
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', (err) => { reject(new PhoneAgentError('ESL_SOCKET_CLOSED', `cannot connect to ${o.host}:${o.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })) })
      socket.connect(o.port, o.host)
    }), o.timeoutMs, 'connect')
    socket.on('error', () => {})
    const esl = new FreeSwitchResponse(socket, quiet)
    // A refused address gets text/rude-rejection and a close (listener_run's apply-inbound-acl).
    const rude = new Promise<never>((_resolve, reject) => {
      esl.once('freeswitch_rude_rejection', () => { reject(new PhoneAgentError('ESL_COMMAND_FAILED', `FreeSWITCH refused ${o.host}:${o.port} for this address (event_socket.conf.xml apply-inbound-acl)`)) })
    })
    rude.catch(() => {})
    await withTimeout(Promise.race([esl.onceAsync('freeswitch_auth_request', o.timeoutMs, 'auth request'), closed, rude]), o.timeoutMs, 'the auth request')
    try {
      await withTimeout(Promise.race([esl.auth(assertEslValue('event socket password', o.password)), closed]), o.timeoutMs, 'auth')
    } catch (err) {
      if (err instanceof PhoneAgentError) throw err
      throw new PhoneAgentError('ESL_COMMAND_FAILED', 'FreeSWITCH refused the Event Socket password', { cause: err })
    }
    return {
      async api (command: string): Promise<string> {
        assertEslValue('api command', command)
        try {
          const res = await withTimeout(Promise.race([esl.api(command, o.timeoutMs), closed]), o.timeoutMs + 100, `api ${command}`)
          return String(res.body)
        } catch (err) {
          // esl rejects a reply that starts with "-"; the reply is still the answer.
          const body = (err as { res?: { body?: unknown } }).res?.body
          if (typeof body === 'string') return body
          throw err
        }
      },
      close (): void { socket.destroy() },
    }
  } catch (err) {
    socket.destroy()
    throw err
  }
}
