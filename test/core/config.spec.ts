import t from 'tap'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildConfig, loadConfigFile } from '../../lib/config/load.ts'
import { ConfigError } from '../../lib/errors.ts'

t.test('defaults are safe: loopback, port 8084, files media', async (t) => {
  const c = buildConfig({}, '/etc/phone-agent')
  t.equal(c.server.host, '127.0.0.1')
  t.equal(c.server.port, 8084)
  t.equal(c.media.soundsDir, '/etc/phone-agent/sounds', 'relative paths are taken from the config file directory')
  t.equal(c.media.freeswitchSoundsDir, '/etc/phone-agent/sounds')
  t.equal(c.unknownDid.hangupCause, 'UNALLOCATED_NUMBER')
})

t.test('route keys in any national or international form become E.164', async (t) => {
  const c = buildConfig({
    numbers: { defaultCountry: 'IT' },
    routes: { '0212345678': { script: 'take-message' }, '0049301234567': { script: 'take-message', language: 'de-DE' } },
  }, '/x')
  t.same(Object.keys(c.routes).sort(), ['+390212345678', '+49301234567'])
})

const bad: Array<[string, unknown, string]> = [
  ['wrong type', { server: { port: 'x' } }, 'server.port'],
  ['typo in a key', { serverr: {} }, 'serverr'],
  ['non-loopback bind without allowRemote', { server: { host: '0.0.0.0' } }, 'server.host'],
  ['unknown script', { routes: { '+390212345678': { script: 'nope' } } }, 'routes.+390212345678.script'],
  ['route key not a number', { routes: { reception: { script: 'take-message' } } }, 'routes.reception'],
  ['duplicate number in two forms', { routes: { '0212345678': { script: 'take-message' }, '+390212345678': { script: 'take-message' } } }, 'routes.+390212345678'],
  ['unknown hangup cause', { unknownDid: { hangupCause: 'GO_AWAY' } }, 'unknownDid.hangupCause'],
  ['unknown country', { numbers: { defaultCountry: 'XX' } }, 'numbers.defaultCountry'],
  ['dial string with a space', { transfers: { sales: { type: 'endpoint', dialString: 'user/1000 user/1001' } } }, 'transfers.sales.dialString'],
  ['a sounds directory with a space in files mode (FreeSWITCH splits record arguments)', { media: { soundsDir: '/srv/my sounds', mode: 'files' } }, 'media.soundsDir'],
  ['dial string with CR/LF', { transfers: { sales: { type: 'endpoint', dialString: 'user/1000\nexecute' } } }, 'transfers.sales.dialString'],
]
for (const [name, raw, field] of bad) {
  t.test(`rejects ${name}, naming ${field}`, async (t) => {
    const err = t.throws(() => buildConfig(raw, '/x')) as unknown
    t.type(err, ConfigError)
    t.equal((err as ConfigError).field, field)
    t.equal((err as ConfigError).code, 'CONFIG_INVALID')
    t.match((err as Error).message, field)
  })
}

t.test('allowRemote lets an operator bind elsewhere on purpose', async (t) => {
  t.equal(buildConfig({ server: { host: '0.0.0.0', allowRemote: true } }, '/x').server.host, '0.0.0.0')
})

t.test('config file: YAML read, missing file and bad YAML named', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pa-config-'))
  const good = join(dir, 'phone-agent.yaml')
  await writeFile(good, 'routes:\n  "+390212345678":\n    script: take-message\n    language: it-IT\n')
  const c = await loadConfigFile(good)
  t.equal(c.routes['+390212345678']?.language, 'it-IT')
  t.equal(c.configDir, dir)

  await t.rejects(loadConfigFile(join(dir, 'missing.yaml')), { code: 'CONFIG_INVALID', message: /cannot read/ })
  const broken = join(dir, 'broken.yaml')
  await writeFile(broken, 'routes: [unclosed\n')
  await t.rejects(loadConfigFile(broken), { code: 'CONFIG_INVALID', message: /not valid YAML/ })
})

t.test('plain-text gRPC to Google is refused unless the endpoint is loopback', async (t) => {
  t.throws(() => buildConfig({ speech: { tts: { provider: 'google', google: { insecure: true, apiEndpoint: 'texttospeech.googleapis.com' } } } }, '/x'),
    { code: 'CONFIG_INVALID', field: 'speech.tts.google.insecure' })
  t.doesNotThrow(() => buildConfig({ speech: { tts: { provider: 'google', google: { insecure: true, apiEndpoint: '127.0.0.1', port: 5555 } } } }, '/x'))
})

t.test('media.stream.freeswitchPorts: fewer ports than numbered workers is refused, naming the field', async (t) => {
  const stream = { freeswitchPorts: { min: 40000, max: 40002 } }
  t.throws(() => buildConfig({ server: { workers: 4 }, media: { stream } }, '/x'), /media\.stream\.freeswitchPorts: fewer ports than server\.workers \(4\)/)
  t.doesNotThrow(() => buildConfig({ server: { workers: 3 }, media: { stream } }, '/x'), 'one port a worker is enough to start')
})
