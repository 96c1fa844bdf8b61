import { isIP } from 'node:net'
import { XMLParser } from 'fast-xml-parser'
import { fail, pass, type CheckResult, type DoctorContext } from './types.ts'

/**
 * Checks of the running FreeSWITCH through `api` commands whose output formats are those of
 * mod_commands.c (module_exists_function, acl_function, global_getvar_function,
 * xml_locate_function, user_exists_function via _find_user) and mod_sofia.c (cmd_status).
 * An api whose output is empty is answered "-ERR no reply" by mod_event_socket's api_exec().
 */

const isTrue = (out: string): boolean => out.trim() === 'true'
const noValue = (out: string): boolean => out.trim() === '' || out.startsWith('-ERR')

export async function checkModules (c: DoctorContext): Promise<CheckResult[]> {
  const out: CheckResult[] = []
  for (const m of c.input.doctor.modules) {
    out.push(isTrue(await c.esl.api(`module_exists ${m}`))
      ? pass(`module ${m}`, 'loaded')
      : fail(`module ${m}`, 'not loaded', `add <load module="${m}"/> to autoload_configs/modules.conf.xml and restart FreeSWITCH (or fs_cli -x 'load ${m}')`))
  }
  return out
}

const ipv4 = (ip: string): number => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0)
const dotted = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
function range (cidr: string): { first: number, last: number } {
  const [ip, bits] = cidr.split('/')
  const size = 2 ** (32 - Number(bits))
  const first = Math.floor(ipv4(ip!) / size) * size
  return { first, last: first + size - 1 }
}

/** `acl IP LIST` for addresses inside every trunk range (true) and outside all of them (false). */
export async function checkAcl (c: DoctorContext): Promise<CheckResult[]> {
  const { aclList, trunkRanges, outsideSamples } = c.input.doctor
  const name = `acl ${aclList}`
  if (trunkRanges.length === 0) {
    return [fail(name, 'no trunk ranges configured, nothing to check', 'list your provider\'s ranges under doctor.trunkRanges (dialplan/trunks/PROVIDER/acl-nodes.xml)')]
  }
  const ranges = trunkRanges.map(range)
  const inside = (n: number): boolean => ranges.some((r) => n >= r.first && n <= r.last)
  const out: CheckResult[] = []
  for (const [i, r] of ranges.entries()) {
    const samples = r.last - r.first >= 2 ? [r.first + 1, r.last - 1] : [r.first]
    const refused = []
    for (const n of samples) if (!isTrue(await c.esl.api(`acl ${dotted(n)} ${aclList}`))) refused.push(dotted(n))
    out.push(refused.length === 0
      ? pass(name, `admits ${trunkRanges[i]} (${samples.map(dotted).join(', ')})`)
      : fail(name, `refuses ${refused.join(', ')} of the trunk range ${trunkRanges[i]}`, `add <node type="allow" cidr="${trunkRanges[i]}"/> to the ${aclList} list in autoload_configs/acl.conf.xml, then fs_cli -x reloadacl`))
  }
  // Just past each range: an ACL wider than the trunk shows up here.
  const outside = [...outsideSamples, ...ranges.map((r) => dotted((r.last + 1) >>> 0))].filter((ip) => !inside(ipv4(ip)))
  const admitted = []
  for (const ip of [...new Set(outside)]) if (isTrue(await c.esl.api(`acl ${ip} ${aclList}`))) admitted.push(ip)
  out.push(admitted.length === 0
    ? pass(name, `refuses outside addresses (${[...new Set(outside)].join(', ')})`)
    : fail(name, `admits ${admitted.join(', ')}, outside every trunk range`, `make the ${aclList} list default="deny" with only the trunk's nodes, then fs_cli -x reloadacl`))
  return out
}

/** `sofia status gateway NAME`: State REGED, or NOREG for a gateway that authenticates by address. */
export async function checkGateways (c: DoctorContext): Promise<CheckResult[]> {
  let names = c.input.doctor.gateways
  if (names === undefined) {
    const v = await c.esl.api('global_getvar phone_agent_gateway')
    if (noValue(v) || v.startsWith('REPLACE_ME')) {
      return [fail('gateway', 'phone_agent_gateway is not set', 'set phone_agent_gateway in phone_agent_vars.xml to your gateway\'s name, then fs_cli -x reloadxml')]
    }
    names = [v.trim()]
  }
  const out: CheckResult[] = []
  for (const gw of names) {
    const status = await c.esl.api(`sofia status gateway ${gw}`)
    const field = (k: string): string | undefined => new RegExp(`^${k}\\s*\\t(.*)$`, 'm').exec(status)?.[1]?.trim()
    const state = field('State')
    if (state === undefined) {
      out.push(fail(`gateway ${gw}`, 'not defined (Invalid Gateway!)', `copy a gateway file to sip_profiles/external/${gw}.xml, then fs_cli -x 'sofia profile external rescan'`))
    } else if (state === 'REGED') {
      out.push(pass(`gateway ${gw}`, `registered (${field('Status') ?? '?'})`))
    } else if (state === 'NOREG') {
      out.push(pass(`gateway ${gw}`, `no registration (IP authentication), Status ${field('Status') ?? '?'}`))
    } else {
      out.push(fail(`gateway ${gw}`, `State ${state}, Status ${field('Status') ?? '?'}`, `check username, password, realm and proxy in sip_profiles/external/${gw}.xml; fs_cli -x 'sofia global siptrace on' shows the provider's answer`))
    }
  }
  return out
}

const DOC_RANGE = /^(?:192\.0\.2|198\.51\.100|203\.0\.113)\./

export async function checkNat (c: DoctorContext): Promise<CheckResult[]> {
  const out: CheckResult[] = []
  for (const v of ['external_sip_ip', 'external_rtp_ip']) {
    const raw = await c.esl.api(`global_getvar ${v}`)
    const value = raw.trim()
    const fix = `set ${v} to this server's public address in vars.xml (replace the stun-set line), then restart FreeSWITCH`
    if (noValue(raw)) out.push(fail(v, 'not set (the STUN lookup at start-up failed?)', fix))
    else if (isIP(value) === 0) out.push(fail(v, `"${value}" is not an address`, fix))
    else if (DOC_RANGE.test(value)) out.push(fail(v, `${value} is a documentation example, not your address`, fix))
    else out.push(pass(v, value))
  }
  return out
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (n) => n === 'param' })

/**
 * mod_event_socket reads event_socket.conf only when it starts (config() from
 * mod_event_socket_runtime), so the file can say one thing while FreeSWITCH does another.
 */
export async function checkEventSocket (c: DoctorContext): Promise<CheckResult[]> {
  const { host } = c.input.doctor.eventSocket
  const out: CheckResult[] = []
  const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.')
  out.push(loopback ? pass('event socket address', `${host} (loopback)`) : fail('event socket address', `${host} is not loopback`, 'point doctor.eventSocket.host at 127.0.0.1 and keep listen-ip 127.0.0.1 in event_socket.conf.xml'))
  out.push(c.password === 'ClueCon'
    ? fail('event socket password', 'FreeSWITCH accepts the well-known default ClueCon', 'set phone_agent_esl_password in phone_agent_vars.xml and restart FreeSWITCH (reloadxml does not reload mod_event_socket)')
    : pass('event socket password', 'not the default'))
  const conf = await c.esl.api('xml_locate configuration configuration name event_socket.conf')
  let params: Array<Record<string, string>> = []
  try {
    const doc = xml.parse(conf) as { configuration?: { settings?: { param?: Array<Record<string, string>> } } }
    params = doc.configuration?.settings?.param ?? []
  } catch { /* reported below */ }
  const param = (n: string): string | undefined => params.find((p) => p['@name'] === n)?.['@value']
  const listen = param('listen-ip')
  if (listen === undefined) {
    out.push(fail('event socket listen-ip', 'event_socket.conf not found in the loaded XML', 'install autoload_configs/event_socket.conf.xml from the pack and restart FreeSWITCH'))
    return out
  }
  out.push(listen === '127.0.0.1' || listen === '::1'
    ? pass('event socket listen-ip', listen)
    : fail('event socket listen-ip', `${listen}: the Event Socket is reachable beyond this machine`, 'set listen-ip to 127.0.0.1 in event_socket.conf.xml and restart FreeSWITCH'))
  const filePassword = param('password')
  if (filePassword !== undefined && filePassword !== c.password) {
    out.push(fail('event socket restart', 'event_socket.conf.xml has another password than the running FreeSWITCH', 'restart FreeSWITCH: mod_event_socket reads its password only when it starts (reloadxml is not enough)'))
  }
  return out
}

/** The fallback rings a directory user and leaves voicemail in its box. */
export async function checkFallback (c: DoctorContext): Promise<CheckResult[]> {
  const out: CheckResult[] = []
  const box = (await c.esl.api('global_getvar phone_agent_voicemail_box')).trim()
  const domain = (await c.esl.api('global_getvar domain')).trim()
  if (noValue(box) || noValue(domain)) {
    out.push(fail('fallback voicemail box', 'phone_agent_voicemail_box or domain is not set', 'include phone_agent_vars.xml at the end of vars.xml, then fs_cli -x reloadxml'))
  } else {
    out.push(isTrue(await c.esl.api(`user_exists id ${box} ${domain}`))
      ? pass('fallback voicemail box', `${box}@${domain} is a directory user`)
      : fail('fallback voicemail box', `no directory user ${box}@${domain}`, `add conf/directory/default/${box}.xml (or set phone_agent_voicemail_box to an existing user), then fs_cli -x reloadxml`))
  }
  const dp = (await c.esl.api('global_getvar default_password')).trim()
  out.push(dp === '1234'
    ? fail('directory default_password', 'still vanilla\'s 1234: every directory user has a known password', 'set default_password in vars.xml to a long secret, then fs_cli -x reloadxml')
    : pass('directory default_password', 'changed from 1234'))
  return out
}
