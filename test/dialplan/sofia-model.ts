/**
 * What mod_sofia answers to a request from an address, given a profile's settings and the ACL
 * lists: a model of the decisions in src/mod/endpoints/mod_sofia/sofia.c and sofia_reg.c at
 * cc93a683ca, reduced to the settings the pack touches.
 */

export interface AclList {
  readonly default: 'allow' | 'deny'
  readonly nodes: ReadonlyArray<{ readonly type: 'allow' | 'deny', readonly cidr: string }>
}

export type Outcome =
  | { readonly kind: '403', readonly log?: string }
  | { readonly kind: 'challenge' }
  | { readonly kind: 'dialplan', readonly authenticated: boolean }

const ipv4 = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)

/**
 * switch_network_list_validate_ip_port_token() (src/switch_utils.c): the most specific node
 * that contains the address decides (a later node wins a tie), else the list's default.
 */
export function aclAllows (list: AclList, ip: string): boolean {
  let ok = list.default === 'allow'
  let bits = 0
  for (const node of list.nodes) {
    const [net, len] = node.cidr.split('/')
    const b = Number(len ?? 32)
    const mask = b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0
    if (b >= bits && ((ipv4(ip) & mask) >>> 0) === ((ipv4(net!) & mask) >>> 0)) {
      ok = node.type === 'allow'
      bits = b
    }
  }
  return ok
}

const on = (v: string | undefined): boolean => /^(true|yes|on|1|enabled|active|allow)$/i.test(v ?? '')

/**
 * An INVITE without credentials: sofia_handle_sip_i_invite().
 * - apply-inbound-acl (a value without `:pass:fail` contexts) fails, auth-calls false:
 *   WARNING `IP %s Rejected by acl "%s"` and 403.
 * - it fails, auth-calls true and auth-calls-acl-only true: DEBUG line and 403.
 * - it passes and auth-calls is true: `Approved by acl`, is_auth = 1, no challenge.
 * - otherwise, auth-calls true: sofia_reg_handle_register(REG_INVITE), i.e. a digest challenge.
 * - otherwise the dialplan runs unauthenticated.
 */
export function invite (params: Readonly<Record<string, string>>, lists: Readonly<Record<string, AclList>>, ip: string): Outcome {
  const authCalls = on(params['auth-calls'])
  const aclName = params['apply-inbound-acl']
  let isAuth = false
  if (aclName !== undefined && aclName !== 'none') {
    if (aclName.includes(':')) throw new Error('ACL with pass/fail contexts is not modelled')
    const list = lists[aclName]
    if (list === undefined) throw new Error(`no ACL list ${aclName}`)
    if (aclAllows(list, ip)) {
      if (authCalls) isAuth = true
    } else if (!authCalls) {
      return { kind: '403', log: `IP ${ip} Rejected by acl "${aclName}"` }
    }
  }
  if (!isAuth && authCalls && on(params['auth-calls-acl-only'])) return { kind: '403' }
  if (!isAuth && authCalls) return { kind: 'challenge' }
  return { kind: 'dialplan', authenticated: isAuth }
}

/**
 * A REGISTER without credentials: sofia_reg_handle_sip_i_register() answers 403 at once when the
 * profile has disable-register (MFLAG_REGISTER cleared), else sofia_reg_handle_register_token()
 * challenges it (apply-register-acl, unused by the pack, is not modelled).
 */
export function register (params: Readonly<Record<string, string>>): Outcome {
  if (on(params['disable-register'])) return { kind: '403' }
  return { kind: 'challenge' }
}
