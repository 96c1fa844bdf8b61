import t from 'tap'
import { parseChannelData } from '../../lib/freeswitch/channel-data.ts'

const uuid = '0f4c6f1a-3a33-4b7e-9d55-2a9d1c1b7e01'

t.test('reads caller, destination and variables from the connect reply', async (t) => {
  const d = parseChannelData({
    'Unique-ID': uuid.toUpperCase(),
    'Caller-Caller-ID-Number': '+393331234567',
    'Caller-Caller-ID-Name': 'Mario Rossi',
    'Caller-Destination-Number': '0212345678',
    'Channel-Name': 'sofia/external/+393331234567@carrier',
    variable_sip_req_user: '0212345678',
  })
  t.equal(d.uuid, uuid.toUpperCase(), 'uuid kept as FreeSWITCH spelled it (its session lookup is case-sensitive)')
  t.equal(d.callerNumber, '+393331234567')
  t.equal(d.callerName, 'Mario Rossi')
  t.equal(d.destination, '0212345678')
  t.equal(d.variables.sip_req_user, '0212345678')
})

t.test('destination falls back to sip_req_user, then sip_to_user', async (t) => {
  t.equal(parseChannelData({ 'Unique-ID': uuid, variable_sip_req_user: '111', variable_sip_to_user: '222' }).destination, '111')
  t.equal(parseChannelData({ 'Unique-ID': uuid, 'Caller-Destination-Number': '', variable_sip_to_user: '222' }).destination, '222')
  t.equal(parseChannelData({ 'Unique-ID': uuid }).destination, undefined)
})

t.test('missing or malformed Unique-ID is a protocol error', async (t) => {
  t.throws(() => parseChannelData({}), { code: 'ESL_PROTOCOL' })
  t.throws(() => parseChannelData({ 'Unique-ID': '../../etc/passwd' }), { code: 'ESL_PROTOCOL' })
})

t.test('missing caller fields become empty strings; control characters are dropped', async (t) => {
  const d = parseChannelData({ 'Unique-ID': uuid, 'Caller-Caller-ID-Name': 'Eve\r\nsendmsg\n', 'Caller-Caller-ID-Number': '+39\u0000123' })
  t.equal(d.callerName, 'Evesendmsg')
  t.equal(d.callerNumber, '+39123')
  t.equal(parseChannelData({ 'Unique-ID': uuid }).callerNumber, '')
})

t.test('variables are made when first read, then the same object; the call path reads headers', async (t) => {
  const headers = { 'Unique-ID': uuid, variable_read_rate: '16000', variable_sip_to_user: '222', 'Caller-Caller-ID-Number': '+39111' }
  const d = parseChannelData(headers)
  t.equal(d.destination, '222', 'the destination without them')
  t.equal(d.headers.variable_read_rate, '16000')
  const v = d.variables
  t.same(v, { read_rate: '16000', sip_to_user: '222' }, 'every variable_* header, without the prefix')
  t.equal(d.variables, v, 'made once')
  t.same(JSON.parse(JSON.stringify(d)).variables, v, 'enumerable as before (logs, a copy)')
})

t.test('every header is kept as sent, repeated values included (kept as one string each), absent ones left out', async (t) => {
  const sent = {
    'Unique-ID': uuid,
    'Channel-Call-UUID': uuid,
    'Caller-Unique-ID': uuid,
    'Caller-Caller-ID-Number': '+393331234567',
    'Caller-ANI': '+393331234567',
    'Channel-ANI': '+393331234567',
    'Call-Direction': 'inbound',
    'Caller-Direction': 'inbound',
    variable_direction: 'inbound',
    'Channel-HIT-Dialplan': 'true',
    variable_is_outbound: 'false',
    'Empty-Header': '',
    'Another-Empty': '',
  }
  const d = parseChannelData({ ...sent, 'Not-Sent': undefined })
  t.same(d.headers, sent)
  t.same(Object.keys(d.headers), Object.keys(sent), 'in the order sent')
  t.equal(d.callerNumber, '+393331234567')
  t.equal(d.variables.direction, 'inbound')
})

t.test("FreeSWITCH's words and the switch's identity are the same values in every call; a caller's are the call's own", async (t) => {
  const reply = (caller: string): Record<string, string> => ({
    'Unique-ID': uuid,
    'Core-UUID': 'c0ffee00-1111-4222-8333-444455556666',
    'FreeSWITCH-Hostname': 'switch-a',
    'Channel-State': 'CS_EXECUTE',
    'Call-Direction': 'inbound',
    'Channel-Read-Codec-Name': 'PCMA',
    'Caller-Caller-ID-Number': caller,
    'Caller-Caller-ID-Name': 'CS_EXECUTE',
  })
  // Values made at run time, as the Event Socket parser makes them (not the literals above).
  const fresh = (r: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [...v].join('')]))
  const a = parseChannelData(fresh(reply('+393331234567')))
  const b = parseChannelData(fresh(reply('+393339876543')))
  t.same(a.headers, reply('+393331234567'), 'every value as sent')
  t.same(b.headers, reply('+393339876543'))
  t.equal(a.headers['Channel-State'], 'CS_EXECUTE')
  t.equal(a.headers['Caller-Caller-ID-Name'], 'CS_EXECUTE', 'a caller\'s name that is a token is just that name')
  t.equal(b.headers['Core-UUID'], a.headers['Core-UUID'])
  t.equal(b.callerNumber, '+393339876543')
})
