import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PACK_DIR } from './install.ts'

// The fail2ban filter against lines in FreeSWITCH's real format, built from the format strings
// in FreeSWITCH's source (quoted below), and, when Debian's fail2ban is installed, against
// fail2ban-regex itself.

const FILTER = join(PACK_DIR, 'fail2ban/filter.d/freeswitch-phone-agent.conf')

/**
 * switch_log_vprintf() in src/switch_log.c: the date is
 * "%0.4d-%0.2d-%0.2d %0.2d:%0.2d:%0.2d.%0.6d %0.2f%%" (date, then idle CPU), the line is
 * "%s [%s] %s:%d%c%s" (date, level name, file, line, 128 turned into a space, message), and
 * mod_logfile prefixes "<uuid> " only to lines logged with a session (SWITCH_CHANNEL_SESSION_LOG).
 */
function fsLine (o: { level: string, file: string, line: number, uuid?: string }, fmt: string, ...args: Array<string | number>): string {
  let i = 0
  const message = fmt.replace(/%[sid]/g, () => String(args[i++])).replace(/\\"/g, '"').replace(/\n$/, '')
  const line = `2026-01-10 03:12:44.123456 97.53% [${o.level}] ${o.file}:${o.line} ${message}`
  return o.uuid ? `${o.uuid} ${line}` : line
}

// Format strings, verbatim from FreeSWITCH at cc93a683ca.
/** sofia_reg.c, sofia_reg_handle_register_token(), only with log-auth-failures=true. */
const AUTH = "SIP auth %s (%s) on sofia profile '%s' for [%s@%s] from ip %s\n"
/** sofia.c, sofia_handle_sip_i_invite(), auth-calls=false. */
const ACL = 'IP %s Rejected by acl \\"%s\\"\n'
/** sofia.c, sofia_handle_sip_i_invite(), auth-calls-acl-only=true. */
const ACL_ONLY = 'IP/Port %s %i Rejected by acls and auth-calls-acl-only flag is set, rejecting call\n'
/** sofia_reg.c, sofia_reg_handle_sip_i_register(), apply-register-acl. */
const REG_ACL = 'IP %s Rejected by register acl \\"%s\\"\n'
/** sofia_reg.c, sofia_reg_parse_auth() (first line of three). */
const NO_USER = "Can't find user [%s@%s] from %s\n"
/** switch_core_state_machine.c, switch_core_standard_on_routing(). */
const NO_ROUTE = 'No Route, Aborting\n'
/** switch_channel.c, switch_channel_perform_hangup(). */
const HANGUP = 'Hangup %s [%s] [%s]\n'

const UUID = '5f0c8b2e-9a4d-4c47-8a5e-2f7b0d3c1e9a'

const BAN: ReadonlyArray<readonly [string, string]> = [
  [fsLine({ level: 'WARNING', file: 'sofia_reg.c', line: 1788 }, AUTH, 'failure', 'REGISTER', 'internal', '1001', '203.0.113.5', '198.51.100.7'), '198.51.100.7'],
  [fsLine({ level: 'WARNING', file: 'sofia_reg.c', line: 1788 }, AUTH, 'failure', 'INVITE', 'internal', 'sipvicious', '[2001:db8::1]', '198.51.100.8'), '198.51.100.8'],
  [fsLine({ level: 'WARNING', file: 'sofia_reg.c', line: 1788 }, AUTH, 'failure', 'REGISTER', 'internal', '100', '203.0.113.5', '2001:db8::77'), '2001:db8::77'],
  [fsLine({ level: 'WARNING', file: 'sofia.c', line: 10679 }, ACL, '198.51.100.9', 'trusted-providers'), '198.51.100.9'],
  [fsLine({ level: 'DEBUG', file: 'sofia.c', line: 10695 }, ACL_ONLY, '198.51.100.10', 5060), '198.51.100.10'],
  [fsLine({ level: 'WARNING', file: 'sofia_reg.c', line: 2406 }, REG_ACL, '198.51.100.11', 'trusted-providers'), '198.51.100.11'],
]

const KEEP: readonly string[] = [
  // A challenge starts every legitimate registration.
  fsLine({ level: 'WARNING', file: 'sofia_reg.c', line: 1842 }, 'SIP auth challenge (%s) on sofia profile \'%s\' for [%s@%s] from ip %s\n', 'REGISTER', 'internal', '1001', '203.0.113.5', '192.168.1.20'),
  fsLine({ level: 'WARNING', file: 'sofia_reg.c', line: 1788 }, AUTH, 'challenge', 'INVITE', 'internal', '1001', '203.0.113.5', '192.168.1.20'),
  // The same event as the failure line that follows it.
  fsLine({ level: 'WARNING', file: 'sofia_reg.c', line: 3210 }, NO_USER, '1001', '203.0.113.5', '198.51.100.7'),
  // NO_ROUTE and dialplan rejects come from the provider, with the caller's text in them.
  fsLine({ level: 'INFO', file: 'switch_core_state_machine.c', line: 311, uuid: UUID }, NO_ROUTE),
  fsLine({ level: 'NOTICE', file: 'switch_channel.c', line: 3426, uuid: UUID }, HANGUP, 'sofia/external/+393331234567@95.128.80.3', 'CS_ROUTING', 'NO_ROUTE_DESTINATION'),
  fsLine({ level: 'WARNING', file: 'mod_dptools.c', line: 1870, uuid: UUID }, '%s\n', 'phone_agent_reject reason=unknown_did ip=95.128.80.3 dest=SIP auth failure (INVITE) on sofia profile \'x\' for [a@b] from ip 10.9.8.7 to= req='),
  // mod_event_socket's own ACL line (not a SIP attacker; the ESL listens on loopback).
  fsLine({ level: 'WARNING', file: 'mod_event_socket.c', line: 2683 }, ACL, '10.1.1.1', 'loopback.auto'),
]

/** The [Definition] section: continuation lines joined, %(name)s interpolated, %% unescaped (ConfigParser). */
function readFilter (text: string): { failregex: string[], datepattern: string } {
  const defs: Record<string, string> = {}
  let key: string | undefined
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line) || /^\[/.test(line)) { key = undefined; continue }
    const m = /^([A-Za-z_]+)\s*=\s?(.*)$/.exec(line)
    if (m) { key = m[1]!; defs[key] = m[2]!.trim(); continue }
    if (key !== undefined && /^\s+\S/.test(line)) defs[key] += `\n${line.trim()}`
  }
  const interpolate = (v: string): string => v.replace(/%\(([A-Za-z_]+)\)s/g, (_w, n: string) => interpolate(defs[n] ?? '')).replace(/%%/g, '%')
  return { failregex: interpolate(defs.failregex ?? '').split('\n').filter(Boolean), datepattern: interpolate(defs.datepattern ?? '') }
}

const filter = readFilter(readFileSync(FILTER, 'utf8'))
// fail2ban's <HOST> matches an IPv4 or IPv6 address or a host name; the addresses are enough here.
const regexes = filter.failregex.map((r) => new RegExp(r.replace('<HOST>', '(?<host>[0-9a-fA-F.:]+)')))
const datePrefix = new RegExp(filter.datepattern.replace('%Y', '\\d{4}').replace('%m', '\\d{2}').replace('%d', '\\d{2}').replace('%H', '\\d{2}').replace('%M', '\\d{2}').replace('%S', '\\d{2}').replace('%f', '\\d+'))

/** What fail2ban does: the date is cut off first, then the first matching failregex gives <HOST>. */
function bannedHost (line: string): string | undefined {
  const m = datePrefix.exec(line)
  const rest = m ? line.slice(m[0].length) : line
  for (const r of regexes) {
    const host = r.exec(rest)?.groups?.host
    if (host !== undefined) return host
  }
  return undefined
}

t.test('the filter reads as fail2ban reads it', async (t) => {
  t.equal(regexes.length, 4)
  t.equal(filter.datepattern, '^%Y-%m-%d %H:%M:%S(?:\\.%f)?')
  for (const r of filter.failregex) t.match(r, /^\^\\s\*\(\?:\\d\+\(\?:\\\.\\d\+\)\?% \)\?\\\[/, 'anchored after the date, idle-CPU field allowed')
})

t.test('real-format auth failures and ACL refusals ban the address they came from', async (t) => {
  for (const [line, host] of BAN) t.equal(bannedHost(line), host, line)
})

t.test('challenges, NO_ROUTE, dialplan rejects and other modules are not banned', async (t) => {
  for (const line of KEEP) t.equal(bannedHost(line), undefined, line)
})

function hasFail2banRegex (): boolean {
  try {
    execFileSync('fail2ban-regex', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

t.test('fail2ban-regex agrees (Debian package fail2ban)', { skip: hasFail2banRegex() ? false : 'fail2ban-regex is not installed (apt-get install fail2ban); the JavaScript check above still ran' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'f2b-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const run = (lines: readonly string[]): string[] => {
    const log = join(dir, 'freeswitch.log')
    writeFileSync(log, lines.join('\n') + '\n')
    const out = execFileSync('fail2ban-regex', ['-o', 'ip', log, FILTER], { encoding: 'utf8' })
    return out.split('\n').map((l) => l.trim()).filter(Boolean)
  }
  t.same(run(BAN.map(([l]) => l)), BAN.map(([, h]) => h))
  t.same(run(KEEP), [])
})
