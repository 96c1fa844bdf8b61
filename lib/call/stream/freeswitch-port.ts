import dgram from 'node:dgram'
import { isIP } from 'node:net'

/**
 * `unicast` needs a port for FreeSWITCH's own side (`local-port`): it binds it and sends the
 * caller's audio from it (switch_ivr_activate_unicast). When FreeSWITCH runs on this host we
 * ask the kernel for a free one; otherwise the operator gives a range open on that host.
 */
export async function freeswitchLocalPort (address: string, range: { min: number, max: number } | undefined): Promise<number> {
  if (range !== undefined) return range.min + Math.floor(Math.random() * (range.max - range.min + 1))
  const socket = dgram.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4')
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      // exclusive: a cluster worker's bind would otherwise share one primary-held socket (and so
      // one port) with every other worker asking for port 0 (lib/media/stream/bind.ts).
      socket.bind({ port: 0, address, exclusive: true }, () => { socket.off('error', reject); resolve() })
    })
    return socket.address().port
  } finally {
    socket.close()
  }
}
