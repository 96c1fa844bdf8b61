import { BlockList, isIP } from 'node:net'
import { z } from 'zod'

/**
 * The SIP source address of a call, as a rate-limit key. FreeSWITCH puts the address the INVITE
 * came from (the packet's, not a header the caller writes) in the channel variable
 * `sip_network_ip` (mod_sofia sofia.c, sofia_handle_sip_i_invite: `sofia_glue_get_addr(de->data->e_msg,
 * network_ip, ...)` then `switch_channel_set_variable_printf(channel, "sip_network_ip", ...)`), and
 * the connect reply of the outbound socket carries it as `variable_sip_network_ip`.
 */

/** `203.0.113.7`, `2001:db8::1`, or a range `198.51.100.0/24`, `2001:db8::/32`. */
export const sourceRangeSchema = z.string().refine((s) => parseRange(s) !== undefined,
  'expected an IP address or a CIDR range such as 198.51.100.0/24 or 2001:db8::/32')

interface Range { readonly address: string, readonly prefix: number, readonly family: 'ipv4' | 'ipv6' }

function parseRange (text: string): Range | undefined {
  const [address = '', bits, extra] = text.trim().split('/')
  const version = isIP(address)
  if (version === 0 || extra !== undefined) return undefined
  const max = version === 4 ? 32 : 128
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined
  const prefix = bits === undefined ? max : Number(bits)
  if (prefix > max) return undefined
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}

/** Addresses exempt from the per-source limit (a carrier's proxies: every trunk call comes from them). */
export function sourceMatcher (ranges: readonly string[]): (address: string) => boolean {
  if (ranges.length === 0) return () => false
  const list = new BlockList()
  for (const text of ranges) {
    const r = parseRange(text)
    if (r !== undefined) list.addSubnet(r.address, r.prefix, r.family)
  }
  return (raw) => {
    const ip = plainAddress(raw)
    const version = isIP(ip)
    return version !== 0 && list.check(ip, version === 4 ? 'ipv4' : 'ipv6')
  }
}

/** Trimmed, and an IPv4-mapped IPv6 address (`::ffff:198.51.100.7`) as the IPv4 one. */
function plainAddress (raw: string): string {
  const ip = raw.trim()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  return mapped?.[1] !== undefined && isIP(mapped[1]) === 4 ? mapped[1] : ip
}

/**
 * The limiter key for a source address, or undefined when it is not an address. An IPv4-mapped
 * IPv6 address counts as the IPv4 one; an IPv6 source is keyed by its /64, since one host
 * usually holds a whole /64 and could otherwise take a fresh address for every call.
 */
export function sourceKey (raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined
  const ip = plainAddress(raw)
  const version = isIP(ip)
  if (version === 4) return ip
  if (version !== 6) return undefined
  const groups = expandIpv6(ip)
  // An unusual spelling (zone index, embedded IPv4) is still limited, as the address itself.
  return groups === undefined ? ip.toLowerCase() : `${groups.slice(0, 4).join(':')}::/64`
}

/** Eight lower-case hextets without leading zeros; undefined for a zone-scoped or odd form. */
function expandIpv6 (ip: string): string[] | undefined {
  if (ip.includes('%') || ip.includes('.')) return undefined
  const [head = '', tail] = ip.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0')
  const groups = [...left, ...fill, ...right]
  return groups.length === 8 ? groups.map((g) => Number.parseInt(g, 16).toString(16)) : undefined
}
