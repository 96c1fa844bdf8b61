import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { XMLParser } from 'fast-xml-parser'
import { PACK_DIR } from './install.ts'

// The trunk examples: each provider has both gateway variants and its ACL nodes; what we could
// not verify is marked so in the file.

const TRUNKS = join(PACK_DIR, 'trunks')
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (n) => ['param', 'variable', 'node'].includes(n) })
type Gateway = { '@name': string, param: Array<{ '@name': string, '@value': string }>, variables?: { variable: Array<{ '@name': string, '@value': string, '@direction'?: string }> } }

const gateway = (provider: string, variant: string): { text: string, gw: Gateway } => {
  const text = readFileSync(join(TRUNKS, provider, `gateway-${variant}.xml`), 'utf8')
  return { text, gw: (parser.parse(text) as { include: { gateway: Gateway } }).include.gateway }
}
const param = (gw: Gateway, name: string): string | undefined => gw.param.find((p) => p['@name'] === name)?.['@value']

t.test('one folder per seed provider, each with both variants and its ACL nodes', async (t) => {
  t.same(readdirSync(TRUNKS).filter((f) => !f.includes('.')).sort(), ['messagenet', 'peoplefone'])
  for (const p of ['messagenet', 'peoplefone']) {
    t.same(readdirSync(join(TRUNKS, p)).sort(), ['acl-nodes.xml', 'gateway-ip-auth.xml', 'gateway-register.xml'], p)
  }
})

for (const provider of ['messagenet', 'peoplefone']) {
  t.test(`${provider}: register variant`, async (t) => {
    const { text, gw } = gateway(provider, 'register')
    t.equal(gw['@name'], provider)
    t.equal(param(gw, 'register'), 'true')
    t.equal(param(gw, 'username'), 'REPLACE_ME')
    t.equal(param(gw, 'password'), 'REPLACE_ME')
    // sofia.c: a call to the registered contact gw+NAME takes its number from `extension`
    // (auto_to_user: the To user) and its context from `context` (default "default").
    t.equal(param(gw, 'extension'), 'auto_to_user')
    t.equal(param(gw, 'context'), 'public')
    t.same(gw.variables?.variable.map((v) => [v['@name'], v['@value'], v['@direction']]), [['absolute_codec_string', 'PCMA,PCMU', 'outbound']])
    t.match(text, /UNVERIFIED:/)
    t.match(text, /To header/)
  })

  t.test(`${provider}: IP-authentication variant`, async (t) => {
    const { text, gw } = gateway(provider, 'ip-auth')
    t.equal(gw['@name'], provider)
    t.equal(param(gw, 'register'), 'false')
    t.equal(param(gw, 'password'), undefined, 'no secret in an IP-authenticated gateway')
    t.equal(param(gw, 'context'), 'public')
    t.match(text, /UNVERIFIED:/)
    t.match(text, /request URI/)
    t.match(text, /sip_req_user/)
  })
}

t.test('peoplefone ranges are the seed\'s, messagenet\'s are a marked placeholder', async (t) => {
  const nodes = (p: string): string[] => ((parser.parse(readFileSync(join(TRUNKS, p, 'acl-nodes.xml'), 'utf8')) as { include: { node: Array<{ '@cidr': string }> } }).include.node).map((n) => n['@cidr'])
  t.same(nodes('peoplefone'), ['95.128.80.0/29', '185.190.125.0/27'])
  t.same(nodes('messagenet'), ['192.0.2.0/29'])
  t.match(readFileSync(join(TRUNKS, 'messagenet/acl-nodes.xml'), 'utf8'), /REPLACE_ME[^]*UNVERIFIED|UNVERIFIED[^]*REPLACE_ME/)
  t.equal(param(gateway('peoplefone', 'register').gw, 'proxy'), 'sips.peoplefone.at')
})
