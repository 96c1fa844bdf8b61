import dgram from 'node:dgram'

/**
 * Two free consecutive UDP ports on 127.0.0.1, each held by a socket of ours: a
 * `media.stream.freeswitchPorts` range FreeSWITCH (the simulator) cannot bind, so its `unicast`
 * fails as switch_ivr_activate_unicast does ("Failure creating unicast connection").
 */
export async function blockedPair (): Promise<{ min: number, max: number, sockets: dgram.Socket[] }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 20000 + Math.floor(Math.random() * 30000)
    const sockets: dgram.Socket[] = []
    try {
      for (const port of [min, min + 1]) sockets.push(await bound(port))
      return { min, max: min + 1, sockets }
    } catch {
      for (const s of sockets) s.close()
    }
  }
  throw new Error('no two free consecutive ports')
}

async function bound (port: number): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4')
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => { socket.off('error', reject); resolve() })
  })
  return socket
}
