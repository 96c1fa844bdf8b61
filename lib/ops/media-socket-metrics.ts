import type { Counter, Gauge, Registry } from 'prom-client'
import type { UdpMuxStats } from '../media/stream/udp-mux.ts'

/** The shared media socket's counters as /metrics shows them (`kind` label). */
const KINDS: ReadonlyArray<readonly [string, (s: UdpMuxStats) => number]> = [
  ['received', (s) => s.received],
  ['sent', (s) => s.sent],
  ['foreign', (s) => s.foreign],
  ['send_dropped', (s) => s.sendDropped],
  ['held', (s) => s.held.queued],
  ['held_late', (s) => s.held.late],
  ['held_cancelled', (s) => s.held.cancelled],
  ['held_dropped', (s) => s.held.dropped],
]

/**
 * `phone_agent_media_socket_datagrams_total{kind}`: what the process's shared media socket
 * (media.stream.sockets: shared) received and sent, read at each scrape. `foreign`: datagrams
 * from no call's FreeSWITCH port (a stranger, or a call just gone); `send_dropped` and
 * `held_dropped`: frames the kernel refused (a full send buffer: the machine cannot keep up);
 * `held`: a reply's frames sent when due by the helper's thread, `held_late` of them more than
 * 1 ms after it (its thread did not get the CPU in time), `held_cancelled` taken back by a pause
 * or a barge-in. No series while the process has no shared socket.
 * `phone_agent_media_socket_held_realtime`: 1 where that thread got realtime priority
 * (media.stream.realtimeSend; docs/operations.md), 0 where it was refused or there is no shared socket.
 */
export function registerMediaSocketMetrics (registry: Registry, CounterClass: typeof Counter, GaugeClass: typeof Gauge, read: () => UdpMuxStats | undefined): void {
  // eslint-disable-next-line no-new -- registered with the registry, read through it
  new GaugeClass({
    name: 'phone_agent_media_socket_held_realtime',
    help: 'Processes whose thread sending held frames runs at realtime priority (media.stream.realtimeSend granted; summed over workers).',
    registers: [registry],
    collect () {
      this.set(read()?.held.realtime === true ? 1 : 0)
    },
  })
  // eslint-disable-next-line no-new -- registered with the registry, read through it
  new CounterClass({
    name: 'phone_agent_media_socket_datagrams_total',
    help: 'Datagrams through the shared media socket, by kind (received, sent, foreign, send_dropped, held, held_late, held_cancelled, held_dropped).',
    labelNames: ['kind'],
    registers: [registry],
    collect () {
      const stats = read()
      this.reset()
      if (stats === undefined) return
      for (const [kind, value] of KINDS) this.inc({ kind }, value(stats))
    },
  })
}
