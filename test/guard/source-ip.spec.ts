import t from 'tap'
import { sourceKey, sourceMatcher } from '../../lib/guard/source-ip.ts'
import { createAdmissionGuard } from '../../lib/guard/admission.ts'
import { guardSchema } from '../../lib/guard/config.ts'
import { buildConfig } from '../../lib/config/load.ts'
import { FakeFreeSwitch } from '../../lib/simulator/index.ts'
import { RawServer } from '../simulator/helpers.ts'
import { logSink } from './helpers.ts'

t.test('a source address becomes a limiter key: IPv4 as is, IPv6 by its /64, junk not at all', async (t) => {
  const table: Array<[string | undefined, string | undefined]> = [
    ['203.0.113.7', '203.0.113.7'],
    [' 203.0.113.7 ', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['', undefined],
    ['not-an-ip', undefined],
    ['203.0.113.7\r\nX: y', undefined],
    [undefined, undefined],
  ]
  for (const [raw, key] of table) t.equal(sourceKey(raw), key, JSON.stringify(raw))
})

t.test('exempt ranges match addresses and ranges of both families', async (t) => {
  const exempt = sourceMatcher(['198.51.100.0/28', '192.0.2.1', '2001:db8:aa::/48'])
  t.ok(exempt('198.51.100.5'))
  t.ok(exempt('::ffff:198.51.100.5'), 'IPv4-mapped')
  t.notOk(exempt('198.51.100.16'))
  t.ok(exempt('192.0.2.1'))
  t.notOk(exempt('192.0.2.2'))
  t.ok(exempt('2001:db8:aa:1::5'))
  t.notOk(exempt('2001:db8:ab::5'))
  t.notOk(exempt('garbage'))
  t.notOk(sourceMatcher([])('198.51.100.5'), 'nothing is exempt by default')
})

t.test('the new settings are validated, and a wrong value names its field', async (t) => {
  const g = guardSchema.parse({})
  t.equal(g.rates.perSourceIpPerMinute, 10)
  t.same(g.rates.perSourceIpExempt, [])
  t.equal(g.rates.whenLimited, 'refuse')
  t.equal(g.capacity.reservedForContacts, 0)
  t.same(g.fallback, { extension: 'phone_agent_fallback', dialplan: 'XML', context: 'phone_agent_fallback' })
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ rates: { perSourceIpExempt: ['198.51.100.0/33'] } }, 'guard.rates.perSourceIpExempt.0', /CIDR/],
    [{ rates: { perSourceIpExempt: ['trunk.example.com'] } }, 'guard.rates.perSourceIpExempt.0', /IP address/],
    [{ rates: { perSourceIpPerMinute: 0 } }, 'guard.rates.perSourceIpPerMinute', /./],
    [{ rates: { whenLimited: 'voicemail' } }, 'guard.rates.whenLimited', /./],
    [{ capacity: { maxConcurrent: 2, reservedForContacts: 2 } }, 'guard.capacity.reservedForContacts', /less than capacity.maxConcurrent/],
    [{ fallback: { extension: 'a b' } }, 'guard.fallback.extension', /letters/],
    [{ fallback: { context: 'x\ny' } }, 'guard.fallback.context', /letters/],
  ]
  for (const [guard, field, message] of cases) {
    t.throws(() => buildConfig({ guard }, '/x'), { code: 'CONFIG_INVALID', field, message }, JSON.stringify(guard))
  }
  t.doesNotThrow(() => buildConfig({ guard: { capacity: { maxConcurrent: 4, reservedForContacts: 3 }, rates: { whenLimited: 'fallback', perSourceIpExempt: ['2001:db8::/32'] } } }, '/x'))
})

t.test('the simulator reports the INVITE source as FreeSWITCH does: sip_network_ip and Caller-Network-Addr', async (t) => {
  // mod_sofia sofia.c, sofia_handle_sip_i_invite: both come from sofia_glue_get_addr() on the
  // received message. The agent reads variable_sip_network_ip from the connect reply.
  for (const [opts, want] of [[{}, '192.0.2.10'], [{ sourceIp: '203.0.113.9' }, '203.0.113.9']] as const) {
    const srv = new RawServer()
    const port = await srv.listen()
    const call = new FakeFreeSwitch().placeCall({ port, ...opts })
    await srv.connected
    const reply = await srv.command('connect')
    t.equal(reply?.headers.variable_sip_network_ip, want)
    t.equal(reply?.headers['Caller-Network-Addr'], want)
    t.match(reply?.headers.variable_sip_network_port, /^\d+$/)
    call.hangup()
    await srv.close()
    await call.ended
  }
})

t.test('the provider\'s ranges from doctor.trunkRanges are exempt as well, other addresses are not', async (t) => {
  const guard = createAdmissionGuard(guardSchema.parse({ rates: { perSourceIpPerMinute: 1 } }), {
    defaultCountry: 'IT', servedDids: () => true, logger: logSink().logger, trunkRanges: ['198.51.100.0/28'],
  })
  t.teardown(() => guard.close())
  const admit = async (n: number, sourceIp: string): Promise<string> => {
    const v = await guard.admit({ uuid: `u${n}`, callerNumber: `+39021234560${n}`, did: '+390212345600', sourceIp })
    return v.admitted ? 'admitted' : v.reason
  }
  t.same([await admit(1, '198.51.100.5'), await admit(2, '198.51.100.6')], ['admitted', 'admitted'], 'trunk addresses')
  t.same([await admit(3, '203.0.113.5'), await admit(4, '203.0.113.5')], ['admitted', 'rate_source_ip'], 'another address')
})
