import t from 'tap'
import { buildConfig } from '../../lib/config/load.ts'
import { routeCall } from '../../lib/call/router.ts'

const config = buildConfig({
  numbers: { defaultCountry: 'IT' },
  routes: { '+390212345678': { script: 'take-message', language: 'it-IT' } },
}, '/x')

const cases: Array<[string | undefined, boolean, string | undefined]> = [
  ['+390212345678', true, '+390212345678'],
  ['00390212345678', true, '+390212345678'],
  ['0212345678', true, '+390212345678'],
  ['390212345678', true, '+390212345678'], // trunks often send the international form without +
  ['+390299999999', false, '+390299999999'],
  ['reception', false, undefined],
  [undefined, false, undefined],
]
for (const [destination, found, did] of cases) {
  t.test(`destination ${String(destination)}`, async (t) => {
    const d = routeCall(config, { destination })
    t.equal(d.found, found)
    if (found) t.equal(d.did, did)
  })
}

t.test('unknown DID says why', async (t) => {
  t.match(routeCall(config, { destination: undefined }), { found: false, reason: 'no_destination' })
  t.match(routeCall(config, { destination: 'abc' }), { found: false, reason: 'not_a_number' })
  t.match(routeCall(config, { destination: '+390299999999' }), { found: false, reason: 'no_route' })
})

t.test('default route catches everything else', async (t) => {
  const c = buildConfig({ defaultRoute: { script: 'take-message' } }, '/x')
  t.match(routeCall(c, { destination: 'abc' }), { found: true, viaDefault: true })
})
