// The FreeSWITCH side of bench/media-sockets.ts, in its own process so that its CPU is not ours:
// one UDP socket per call bound at the call's local-port (as switch_ivr_activate_unicast binds
// it), which sends one caller frame per step to the call's remote-port and drains what we send.
import dgram from 'node:dgram'

const sockets = []
let received = 0
const frame = Buffer.alloc(320)
for (let i = 0; i < 160; i++) frame.writeInt16LE(Math.round(3000 * Math.sin(i / 3)), i * 2)
let targets = []

process.on('message', async (m) => {
  if (m.type === 'open') {
    for (let i = 0; i < m.calls; i++) {
      const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 })
      s.on('message', () => { received++ })
      await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve))
      sockets.push(s)
    }
    process.send({ type: 'ports', ports: sockets.map((s) => s.address().port) })
  } else if (m.type === 'targets') {
    targets = m.ports
    process.send({ type: 'ok' })
  } else if (m.type === 'step') {
    for (let i = 0; i < sockets.length; i++) sockets[i].send(frame, targets[i], '127.0.0.1')
    process.send({ type: 'stepped', received })
  } else if (m.type === 'received') {
    process.send({ type: 'received', received })
  } else if (m.type === 'close') {
    for (const s of sockets) s.close()
    process.exit(0)
  }
})
