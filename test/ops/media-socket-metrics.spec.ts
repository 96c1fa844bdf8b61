import t from 'tap'
import { Metrics, mergedMetrics } from '../../lib/ops/metrics.ts'
import type { UdpMuxStats } from '../../lib/media/stream/udp-mux.ts'

const stats = (n: number): UdpMuxStats => ({
  foreign: 1 * n, sendDropped: 2 * n, received: 3 * n, wakeUps: 4 * n, sent: 5 * n, flushes: 6 * n,
  held: { queued: 7 * n, sent: 7 * n, dropped: 8 * n, cancelled: 9 * n, late: 10 * n, maxLateUs: 11 * n, pending: 0, realtime: false },
})

t.test('the shared media socket\'s counters are read at each scrape, by kind', async (t) => {
  const metrics = new Metrics({ processMetrics: false })
  let current: UdpMuxStats | undefined
  metrics.mediaSocket(() => current)
  t.notMatch(await metrics.render(), /phone_agent_media_socket_datagrams_total\{/, 'no series while the process has no shared socket')
  current = stats(1)
  const first = await metrics.render()
  for (const [kind, value] of [['received', 3], ['sent', 5], ['foreign', 1], ['send_dropped', 2], ['held', 7], ['held_late', 10], ['held_cancelled', 9], ['held_dropped', 8]] as const) {
    t.match(first, new RegExp(`^phone_agent_media_socket_datagrams_total\\{kind="${kind}"\\} ${value}$`, 'm'), kind)
  }
  t.match(first, /^phone_agent_media_socket_held_realtime 0$/m, 'the sending thread at normal priority')
  current = stats(2)
  t.match(await metrics.render(), /^phone_agent_media_socket_datagrams_total\{kind="held"\} 14$/m, 'the value now, not a sum of scrapes')
  current = { ...stats(2), held: { ...stats(2).held, realtime: true } }
  t.match(await metrics.render(), /^phone_agent_media_socket_held_realtime 1$/m, 'at realtime priority')
  current = undefined
  t.match(await metrics.render(), /^phone_agent_media_socket_held_realtime 0$/m, 'no shared socket: no thread at realtime priority')
})

t.test('workers\' counters are summed in the cluster\'s /metrics', async (t) => {
  const primary = new Metrics({ processMetrics: false })
  const worker = new Metrics({ processMetrics: false })
  worker.mediaSocket(() => stats(1))
  const other = new Metrics({ processMetrics: false })
  other.mediaSocket(() => stats(2))
  const merged = mergedMetrics(primary, async () => [await worker.json(), await other.json()])
  t.match(await merged.render(), /^phone_agent_media_socket_datagrams_total\{kind="held_late"\} 30$/m)
})
