import t from 'tap'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { loadUdpMuxAddon } from '../../lib/media/native/udp-mux-addon.ts'
import { UdpMux } from '../../lib/media/stream/udp-mux.ts'
import { MediaEndpoint } from '../../lib/media/stream/endpoint.ts'
import { captureLogs } from '../helpers/logs.ts'

// MediaEndpoint.retarget: FreeSWITCH was asked again from another local-port because the first
// `unicast` never started (lib/call/stream/unicast-start.ts). The endpoint then takes the new
// port's datagrams, refuses the old one's, and tells the port FreeSWITCH must send to.

interface FreeswitchSide { socket: dgram.Socket, received: Buffer[], port: number }

async function freeswitchSide (): Promise<FreeswitchSide> {
  const socket = dgram.createSocket('udp4')
  const received: Buffer[] = []
  socket.on('message', (msg) => { received.push(msg) })
  socket.bind(0, '127.0.0.1')
  await once(socket, 'listening')
  return { socket, received, port: socket.address().port }
}

async function sendFrom (side: FreeswitchSide, to: number, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => { side.socket.send(bytes, to, '127.0.0.1', (err) => { if (err !== null) reject(err); else resolve() }) })
}

async function until (cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached')
    await sleep(5)
  }
}

const frame = (value: number): Buffer => { const b = Buffer.alloc(320); for (let i = 0; i < 160; i++) b.writeInt16LE(value, i * 2); return b }

const load = loadUdpMuxAddon()
const kinds: Array<{ name: string, mux: () => UdpMux | undefined, skip?: string }> = [
  { name: 'a socket of its own', mux: () => undefined },
  { name: 'the shared socket', mux: () => UdpMux.open(load.addon!, '127.0.0.1', 0), ...(load.addon === undefined && process.env.CI !== 'true' ? { skip: `udp-mux helper not available: ${load.why}` } : {}) },
]

for (const kind of kinds) {
  t.test(`${kind.name}: a retargeted endpoint takes the new port's audio, not the old one's`, { skip: kind.skip }, async (t) => {
    const { logger } = captureLogs()
    const mux = kind.mux()
    t.teardown(() => { mux?.close() })
    const first = await freeswitchSide()
    const second = await freeswitchSide()
    t.teardown(() => { first.socket.close(); second.socket.close() })
    const ep = await MediaEndpoint.open({ rate: 8000, logger, leadFrames: 1, peer: { address: '127.0.0.1', port: first.port }, mux })
    t.teardown(async () => { await ep.close() })
    const frames: number[] = []
    ep.onFrame((f) => { frames.push(f.samples[0] as number) })
    t.ok(await ep.retarget({ address: '127.0.0.1', port: second.port }), 'retargeted')
    t.same(ep.peer, { address: '127.0.0.1', port: second.port })
    // A port the kernel chose moves when a socket of its own disconnects: the endpoint says where it is now.
    const to = ep.advertisedAddress.port
    t.equal(to, ep.localAddress.port)
    await sendFrom(first, to, frame(111))
    await sendFrom(second, to, frame(222))
    await until(() => ep.flowing && frames.length === 1)
    await sleep(50)
    t.same(frames, [222], 'only the new port\'s frame')
    ep.enqueue(new Int16Array(160).fill(500))
    await until(() => second.received.some((b) => b.readInt16LE(0) === 500))
    t.equal(first.received.length, 0, 'nothing to the old port')
    t.notOk(await ep.retarget({ address: '127.0.0.1', port: first.port }), 'no retarget once FreeSWITCH has sent')
    await ep.close()
    t.notOk(await ep.retarget({ address: '127.0.0.1', port: first.port }), 'nor once closed')
  })
}

t.test('a socket of its own left unconnected (connect: false): the endpoint itself keeps only the new port\'s datagrams', async (t) => {
  const { logger } = captureLogs()
  const first = await freeswitchSide()
  const second = await freeswitchSide()
  t.teardown(() => { first.socket.close(); second.socket.close() })
  const ep = await MediaEndpoint.open({ rate: 8000, logger, leadFrames: 1, peer: { address: '127.0.0.1', port: first.port }, connect: false })
  t.teardown(async () => { await ep.close() })
  const frames: number[] = []
  ep.onFrame((f) => { frames.push(f.samples[0] as number) })
  t.ok(await ep.retarget({ address: '127.0.0.1', port: second.port }), 'retargeted, though not connected')
  const to = ep.advertisedAddress.port
  await sendFrom(first, to, frame(111))
  await until(() => ep.stats.droppedForeign === 1)
  await sendFrom(second, to, frame(222))
  await until(() => frames.length === 1)
  t.same(frames, [222], 'the old port\'s frame dropped as a stranger\'s, the new one\'s taken')
  ep.enqueue(new Int16Array(160).fill(500))
  await until(() => second.received.some((b) => b.readInt16LE(0) === 500))
  t.equal(first.received.length, 0, 'our audio goes to the new port, with its address')
})
