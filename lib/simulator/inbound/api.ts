import { existsSync } from 'node:fs'
import type { AclList, InboundState } from './state.ts'
import { locate, toFsXml } from './xml.ts'

/**
 * The `api` commands the doctor uses, answering with the output of FreeSWITCH's own functions
 * (mod_commands.c unless said otherwise). An empty output becomes "-ERR no reply\n" in
 * mod_event_socket's api_exec(), an unknown command "-ERR <cmd> Command not found!\n".
 */

const ipv4 = (ip: string): number | undefined => {
  const parts = ip.split('.')
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined
  return parts.reduce((n, o) => n * 256 + Number(o), 0)
}

/** switch_network_list_validate_ip_port_token() (switch_utils.c): most specific node wins, a later one on a tie. */
export function aclAllows (list: AclList, ip: string): boolean {
  const n = ipv4(ip)
  if (n === undefined) return false
  let ok = list.default === 'allow'
  let bits = 0
  for (const node of list.nodes) {
    const [net, len] = node.cidr.split('/')
    const b = Number(len ?? 32)
    const mask = b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0
    const base = ipv4(net ?? '')
    if (base !== undefined && b >= bits && ((n & mask) >>> 0) === ((base & mask) >>> 0)) {
      ok = node.type === 'allow'
      bits = b
    }
  }
  return ok
}

const LINE = '================================================================================================='

type Api = (state: InboundState, args: string) => string

const APIS: Record<string, Api> = {
  // module_exists_function: switch_loadable_module_exists() on the module hash.
  module_exists: (s, a) => (a === '' ? '' : s.modules.has(a) ? 'true' : 'false'),
  // acl_function: "true" only when switch_check_network_list_ip() says so; bad args are "false".
  acl: (s, a) => {
    const [ip, list] = a.split(' ')
    const l = list === undefined ? undefined : s.acl[list]
    return l !== undefined && ip !== undefined && aclAllows(l, ip) ? 'true' : 'false'
  },
  // global_getvar_function: the value, or nothing.
  global_getvar: (s, a) => s.globals.get(a) ?? '',
  // xml_locate_function: the element via switch_xml_toxml, or "can't find anything\n". For a
  // config file (`xml_locate configuration configuration name switch.conf`) this is the lookup
  // switch_xml_open_cfg() makes (switch_xml.c ~2545), i.e. what the core and the modules read.
  xml_locate: (s, a) => {
    const argv = a.split(' ')
    if (argv.length === 1 && argv[0] === 'root') return toFsXml(s.document)
    if (argv.length !== 4) return '-ERR bad args\n'
    const el = locate(s.document, argv[0]!, argv[1]!, argv[2]!, argv[3]!)
    return el === undefined ? "can't find anything\n" : toFsXml(el)
  },
  // _find_user(..., SWITCH_TRUE): "true" or "false".
  user_exists: (s, a) => {
    const [key, user, domain] = a.split(' ')
    if (key === undefined || user === undefined || domain === undefined) return '-ERR Missing Args\n'
    return s.users.has(`${user}@${domain}`) ? 'true' : 'false'
  },
  // file_exists_function: switch_file_exists().
  file_exists: (s, a) => (a !== '' && (s.fileExists ?? existsSync)(a) ? 'true' : 'false'),
  // mod_sofia.c cmd_status(), "gateway" branch.
  sofia: (s, a) => {
    const m = /^status gateway (\S+)$/.exec(a)
    if (!m) return '-ERR Usage: sofia status gateway <name> (only that is simulated)\n'
    const gp = s.gateways[m[1]!]
    if (gp === undefined) return 'Invalid Gateway!\n'
    const rows: Array<[string, string]> = [
      ['Name    ', m[1]!], ['Profile ', gp.profile ?? 'external'], ['Scheme  ', 'Digest'], ['Realm   ', gp.realm ?? ''],
      ['Username', gp.username ?? 'FreeSWITCH'], ['Password', gp.register === false ? 'no' : 'yes'],
      ['From    ', `<sip:${gp.username ?? 'FreeSWITCH'}@${gp.proxy ?? ''}>`], ['Contact ', `<sip:gw+${m[1]!}@192.0.2.10:5080;transport=udp;gw=${m[1]!}>`],
      ['Exten   ', gp.extension ?? gp.username ?? 'FreeSWITCH'], ['To      ', `sip:${gp.username ?? 'FreeSWITCH'}@${gp.proxy ?? ''}`],
      ['Proxy   ', `sip:${gp.proxy ?? ''}`], ['Context ', gp.context ?? 'default'], ['Expires ', '600'], ['Freq    ', '600'],
      ['Ping    ', '0'], ['PingFreq', '30'], ['PingTime', '0.00'], ['PingState', '1/0/1'],
      ['State   ', gp.state], ['Status  ', gp.status], ['Uptime  ', gp.status === 'UP' ? '120s' : '0s'],
      ['CallsIN ', '0'], ['CallsOUT', '0'], ['FailedCallsIN', '0'], ['FailedCallsOUT', '0'],
    ]
    return `${LINE}\n${rows.map(([k, v]) => `${k}\t${v}\n`).join('')}${LINE}\n`
  },
}

/** The body of the api/response for `api <cmd> <args>` (split at the first space, as parse_command does). */
export function runApi (state: InboundState, commandLine: string): string {
  const sp = commandLine.indexOf(' ')
  const cmd = sp < 0 ? commandLine : commandLine.slice(0, sp)
  const args = sp < 0 ? '' : commandLine.slice(sp + 1)
  const api = APIS[cmd]
  const out = api === undefined ? `-ERR ${cmd} Command not found!\n` : api(state, args)
  return out === '' ? '-ERR no reply\n' : out
}
