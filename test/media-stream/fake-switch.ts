import dgram from 'node:dgram'
import { once } from 'node:events'
import type { Logger } from 'pino'
import type { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { FrameScheduler } from '../../lib/media/stream/scheduler.ts'
import { captureLogs, type LogRecord } from '../helpers/logs.ts'
import { until } from '../helpers/until.ts'
import { FakeClock } from './fake-clock.ts'

/** A UDP socket on loopback that keeps what it is sent: FreeSWITCH's end of a unicast stream, or a stranger's. */
export interface UdpPeer {
  readonly received: Buffer[]
  /** Where it sends from: the endpoint's `peer`. */
  readonly peer: { readonly address: string, readonly port: number }
  readonly port: number
  /** Send one datagram to `port` on loopback. */
  send: (frame: Buffer, port: number) => Promise<void>
  /**
   * FreeSWITCH's first datagram, a pre-RTP 0xFF frame: switch_ivr_park starts the thread that
   * plays our datagrams in the pass that sends it. Resolves once the endpoint has taken it in.
   */
  started: (ep: MediaEndpoint) => Promise<void>
  close: () => void
}

/** FreeSWITCH's end of a unicast stream, and a scheduler on a fake clock for the endpoint under test. */
export interface FakeSwitch extends UdpPeer {
  readonly logger: Logger
  /** What `logger` wrote, as whole records. */
  readonly records: LogRecord[]
  readonly clock: FakeClock
  readonly scheduler: FrameScheduler
}

export async function udpPeer (): Promise<UdpPeer> {
  const socket = dgram.createSocket('udp4')
  const received: Buffer[] = []
  socket.on('message', (msg) => { received.push(msg) })
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  const port = socket.address().port
  const send = async (frame: Buffer, to: number): Promise<void> => {
    await new Promise<void>((resolve, reject) => { socket.send(frame, to, '127.0.0.1', (err) => { if (err) reject(err); else resolve() }) })
  }
  return {
    received,
    peer: { address: '127.0.0.1', port },
    port,
    send,
    started: async (ep) => {
      await send(Buffer.alloc(ep.rate / 25, 0xff), ep.localAddress.port)
      await until(() => ep.stats.preRtp + ep.stats.received > 0, 2000, 2)
    },
    close: () => { socket.close() },
  }
}

export async function fakeSwitch (options: { maxCatchUpFrames?: number } = {}): Promise<FakeSwitch> {
  const { logger, records } = captureLogs()
  const clock = new FakeClock()
  const scheduler = new FrameScheduler({ clock, timers: clock, maxCatchUpFrames: options.maxCatchUpFrames })
  return { ...await udpPeer(), logger, records, clock, scheduler }
}
