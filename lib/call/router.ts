import type { CallConfig, RouteConfig } from './config.ts'
import { toE164 } from '../numbers/e164.ts'
import type { ChannelData } from '../freeswitch/channel-data.ts'

export type RouteDecision =
  | { readonly found: true, readonly did: string | undefined, readonly route: RouteConfig, readonly viaDefault: boolean }
  | { readonly found: false, readonly did: string | undefined, readonly reason: 'no_destination' | 'not_a_number' | 'no_route' }

/**
 * Pick the call script for the dialled number. The destination comes from the connect reply
 * (Caller-Destination-Number, else sip_req_user / sip_to_user, see channel-data.ts) and is
 * normalised to E.164 with the configured country, so `+39...`, `0039...` and `02...` all match
 * the same route.
 */
export function routeCall (config: Pick<CallConfig, 'routes' | 'defaultRoute' | 'numbers'>, data: Pick<ChannelData, 'destination'>): RouteDecision {
  const raw = data.destination
  const did = toE164(raw, config.numbers.defaultCountry)
  const route = did === undefined ? undefined : (Object.hasOwn(config.routes, did) ? config.routes[did] : undefined)
  if (route) return { found: true, did, route, viaDefault: false }
  if (config.defaultRoute) return { found: true, did, route: config.defaultRoute, viaDefault: true }
  const reason = raw === undefined ? 'no_destination' : did === undefined ? 'not_a_number' : 'no_route'
  return { found: false, did, reason }
}
