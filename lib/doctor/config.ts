import { isIP } from 'node:net'
import { z } from 'zod'

/**
 * `doctor:` in the config file: how `phone-agent doctor` reaches FreeSWITCH's inbound Event
 * Socket (mod_event_socket, port 8021) and what it expects to find there. The password is never
 * in the file: only the name of the environment variable that holds it.
 */

const ipv4 = z.string().refine((s) => isIP(s) === 4, 'expected an IPv4 address such as 198.51.100.1')
const cidr = z.string().refine((s) => {
  const [ip, bits, extra] = s.split('/')
  return extra === undefined && isIP(ip ?? '') === 4 && bits !== undefined && /^\d{1,2}$/.test(bits) && Number(bits) <= 32
}, 'expected an IPv4 range such as 95.128.80.0/29')
const name = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . and -')

export const doctorSchema = z.strictObject({
  eventSocket: z.strictObject({
    /** Loopback by default: mod_event_socket should listen nowhere else (the pack binds 127.0.0.1). */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(8021),
    /** The environment variable holding the password (event_socket.conf.xml, phone_agent_esl_password). */
    passwordEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/, 'an environment variable name').default('PHONE_AGENT_ESL_PASSWORD'),
    /** Every api command gets this long (esl's own default of 1 s is too short for xml_locate on a big dialplan). */
    timeoutMs: z.number().int().positive().default(5000),
  }).prefault({}),
  /** The provider's signalling ranges; each must be admitted by the ACL (`acl IP LIST`). */
  trunkRanges: z.array(cidr).default([]),
  /** Addresses that must be refused. Never a provider's; the default is a documentation range. */
  outsideSamples: z.array(ipv4).min(1).default(['198.51.100.1']),
  aclList: name.default('trusted-providers'),
  /** Gateways that must be registered (or NOREG for IP authentication); default: phone_agent_gateway. */
  gateways: z.array(name).optional(),
  publicContext: name.default('public'),
  outboundContext: name.default('phone_agent_outbound'),
  /** Modules FreeSWITCH must have loaded (module_exists). */
  modules: z.array(name).default(['mod_sofia', 'mod_event_socket', 'mod_dialplan_xml', 'mod_dptools', 'mod_commands', 'mod_sndfile', 'mod_voicemail']),
})

export type DoctorConfig = z.infer<typeof doctorSchema>
