import t from 'tap'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadUdpMuxAddon } from '../../lib/media/native/udp-mux-addon.ts'
import { openMediaSockets } from '../../lib/media/stream/sockets-at-start.ts'
import { UdpMux } from '../../lib/media/stream/udp-mux.ts'
import { captureLogs } from '../helpers/logs.ts'

// media.stream.realtimeSend: the thread that sends held frames asks for SCHED_FIFO 1
// (held-send.c). What the helper reports must be what the kernel says of the thread, and the
// kernel must grant it wherever this process has the right to it.

/**
 * Scheduling policy of each thread named held-send in this process, by thread id: field 41 of
 * /proc/.../stat (0 normal, 1 FIFO). Other specs sharing this test process may have sockets of
 * their own open: a test looks at the threads its own socket added.
 */
function heldSendPolicies (): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync('/proc/self/task')) {
    if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'held-send') continue
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    // Fields after the name (which may hold spaces) start at field 3: policy is the 39th of them.
    out.set(tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]))
  }
  return out
}

/** The policies of the held-send threads that `open` started. */
function policiesOfNew <T> (open: () => T): { opened: T, policies: number[] } {
  const before = heldSendPolicies()
  const opened = open()
  return { opened, policies: [...heldSendPolicies()].filter(([tid]) => !before.has(tid)).map(([, policy]) => policy) }
}

/** This process may ask for SCHED_FIFO 1: CAP_SYS_NICE in effect, or an RLIMIT_RTPRIO of 1 or more. */
function mayBeRealtime (): boolean {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'
  const sysNice = (BigInt(`0x${capEff}`) >> 23n) & 1n
  const rtprio = /^Max realtime priority\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '0'
  return sysNice === 1n || rtprio === 'unlimited' || Number(rtprio) >= 1
}

const load = loadUdpMuxAddon()
if (process.platform !== 'linux') {
  t.test('realtime held frames', { skip: 'reads /proc (Linux)' }, () => {})
} else if (load.addon === undefined) {
  if (process.env.CI === 'true') t.fail(`the udp-mux helper must be built in CI: ${load.why}`)
  else t.test('realtime held frames', { skip: `the udp-mux helper is not available: ${load.why}` }, () => {})
} else {
  const addon = load.addon
  const { logger } = captureLogs()

  t.test('not asked: the thread runs at normal priority', async (t) => {
    const { opened: mux, policies } = policiesOfNew(() => UdpMux.open(addon, '127.0.0.1', 0, undefined, false))
    t.teardown(() => { mux.close() })
    t.same(policies, [0], 'SCHED_OTHER')
    t.equal(mux.stats.held.realtime, false)
  })

  t.test('asked: SCHED_FIFO where the process may have it, reported as the kernel has it, and held frames still go', async (t) => {
    const { opened: mux, policies } = policiesOfNew(() => UdpMux.open(addon, '127.0.0.1', 0, undefined, true))
    t.teardown(() => { mux.close() })
    t.equal(policies.length, 1, 'one sending thread')
    t.equal(mux.stats.held.realtime, policies[0] === 1, `reported as the kernel has it (policy ${policies[0]})`)
    t.equal(mux.stats.held.realtime, mayBeRealtime(), `granted exactly where the process has the right (${mayBeRealtime() ? 'it has' : 'it has not'})`)
    const fs = dgram.createSocket('udp4')
    t.teardown(() => { fs.close() })
    const got: number[] = []
    fs.on('message', (msg) => { got.push(msg[0] as number) })
    fs.bind(0, '127.0.0.1')
    await once(fs, 'listening')
    const link = mux.link({ address: '127.0.0.1', port: fs.address().port })
    t.ok(await link.connect(link.peer, logger))
    link.send(Buffer.from([7, 0]), undefined, 30)
    mux.flush()
    const end = Date.now() + 3000
    while (got.length === 0 && Date.now() < end) await sleep(5)
    t.same(got, [7], 'the held frame was sent')
    // Counted once sendmmsg has returned, which can be after the datagram arrived (held-send.c run()).
    while (mux.stats.held.sent === 0 && Date.now() < end) await sleep(5)
    t.equal(mux.stats.held.sent, 1)
  })

  t.test('start-up says whether the thread got realtime priority, and once why not', async (t) => {
    const { logger: log, records } = captureLogs()
    // An address no other spec's shared socket uses: this opens the process's socket for it.
    const { opened, policies } = policiesOfNew(() => openMediaSockets({ sockets: 'shared', bindAddress: '127.0.0.5', ports: undefined, realtimeSend: true }, log))
    t.equal(opened, 'shared')
    t.equal(policies.length, 1, 'its sending thread started')
    const granted = policies[0] === 1
    t.equal(granted, mayBeRealtime(), 'granted where the process may have it')
    t.match(records.find((r) => r.realtimeSend !== undefined), { realtimeSend: granted }, 'the start-up line says which')
    const refused = records.filter((r) => r.field === 'media.stream.realtimeSend')
    t.equal(refused.length, granted ? 0 : 1, granted ? 'nothing more to say' : 'one line on how to allow it')
  })
}
