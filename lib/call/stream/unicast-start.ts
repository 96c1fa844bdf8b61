import { setTimeout as delay } from 'node:timers/promises'
import type { Logger } from 'pino'
import { PhoneAgentError, isCallEnded } from '../../errors.ts'
import type { Channel } from '../../freeswitch/channel.ts'
import type { MediaEndpoint } from '../../media/stream/index.ts'
import type { MediaStreamConfig } from '../config.ts'
import { freeswitchLocalPort, type FreeswitchPort } from './freeswitch-port.ts'

/**
 * How long FreeSWITCH has, after `unicast`, to send its first datagram. The park loop runs a
 * queued command after its next frame read and from then on sends every frame it reads, 0xFF
 * fill included (switch_ivr.c switch_ivr_park): a few tens of ms on a live channel. Nothing
 * ever comes when the activation failed, and the `unicast` was answered +OK all the same
 * (mod_event_socket.c answers a sendmsg whatever the command then does): FreeSWITCH could not
 * bind `local-port` ("Failure creating unicast connection": another program took the port, or
 * `media.stream.freeswitchAddress` is not an address of FreeSWITCH's host). Nor when its
 * datagrams cannot reach our advertised address.
 */
export const UNICAST_START_MS = 2000
/** After the wait, a moment for datagrams already in the socket to be read (waitedInVain). */
const READ_GRACE_MS = 100

export type StreamConfig = Pick<MediaStreamConfig, 'freeswitchAddress' | 'freeswitchPorts'>

/** A port for FreeSWITCH's side of the stream, held until the call ends (freeswitch-port.ts). */
export async function heldFreeswitchPort (channel: Channel, config: StreamConfig): Promise<FreeswitchPort> {
  const fsPort = await freeswitchLocalPort(config.freeswitchAddress, config.freeswitchPorts)
  channel.signal.addEventListener('abort', fsPort.release, { once: true })
  if (channel.signal.aborted) fsPort.release()
  return fsPort
}

/** Ask FreeSWITCH to stream the call between its `port` and our endpoint. */
export async function sendUnicast (channel: Channel, config: StreamConfig, port: number, endpoint: MediaEndpoint): Promise<void> {
  await channel.sendmsg({
    'call-command': 'unicast',
    'local-ip': config.freeswitchAddress,
    'local-port': String(port),
    'remote-ip': endpoint.advertisedAddress.address,
    'remote-port': String(endpoint.advertisedAddress.port),
    transport: 'udp',
  })
}

export interface UnicastWatch {
  readonly channel: Channel
  readonly endpoint: MediaEndpoint
  readonly config: StreamConfig
  readonly log: Logger
  /** The port the first `unicast` named. */
  readonly firstPort: number
  /** How long each ask waits for the first datagram (tests shorten it). */
  readonly waitMs?: number
}

/**
 * Watch a stream just asked for. With nothing from FreeSWITCH within UNICAST_START_MS, ask once
 * more from another port: a failed activation leaves nothing behind (switch_ivr_activate_unicast
 * sets CF_UNICAST and the "unicast" private only once bound), so the next `unicast` starts the
 * stream. The first port stays held: FreeSWITCH may have bound it after all. If that one was only
 * late, its datagrams are now refused (the park loop keeps the first connection it launched, so
 * the call stays silent) and the second wait ends the call: a clear failure, not dead air.
 * Resolves with the error when the stream never started; undefined once it did, or when the
 * call or the stream ended first.
 */
export async function watchUnicastStart (w: UnicastWatch): Promise<PhoneAgentError | undefined> {
  const ports = [w.firstPort]
  const waitMs = w.waitMs ?? UNICAST_START_MS
  for (;;) {
    if (!(await waitedInVain(w, waitMs))) return undefined
    if (ports.length === 2) break
    w.log.warn({ freeswitchPort: w.firstPort, waitedMs: waitMs }, 'FreeSWITCH sent no audio after unicast: asking again from another port')
    try {
      const next = await heldFreeswitchPort(w.channel, w.config)
      ports.push(next.port)
      if (!(await w.endpoint.retarget({ address: w.config.freeswitchAddress, port: next.port }))) {
        if (w.endpoint.flowing || w.endpoint.closed) return undefined
        break
      }
      await sendUnicast(w.channel, w.config, next.port, w.endpoint)
    } catch (err) {
      if (isCallEnded(err) || w.channel.signal.aborted) return undefined
      w.log.warn({ err }, 'could not ask FreeSWITCH again for the stream')
      break
    }
  }
  const ours = w.endpoint.advertisedAddress
  return new PhoneAgentError('MEDIA_STREAM_FAILED', `FreeSWITCH sent no audio after unicast from ${w.config.freeswitchAddress} ` +
    `port ${ports.join(', then ')} to ${ours.address}:${ours.port}: look in FreeSWITCH's log for "Failure creating unicast connection" ` +
    '(a port another program holds, or media.stream.freeswitchAddress not an address of its host), and check that FreeSWITCH can reach ' +
    'media.stream.advertisedAddress over UDP')
}

/** True when the wait ran out with the stream open and nothing from FreeSWITCH; false when it started, closed, or the call ended. */
async function waitedInVain (w: UnicastWatch, waitMs: number): Promise<boolean> {
  if (w.endpoint.flowing) return false
  try {
    // Unreferenced: a watch never keeps the process up; the call's end clears it.
    await delay(waitMs, undefined, { signal: w.channel.signal, ref: false })
    // An event loop that was stalled runs due timers before it reads the sockets: a datagram
    // that came in time may still be waiting to be read. Read it before judging.
    if (!w.endpoint.flowing) await delay(READ_GRACE_MS, undefined, { signal: w.channel.signal, ref: false })
  } catch {
    return false
  }
  return !w.endpoint.flowing && !w.endpoint.closed
}
