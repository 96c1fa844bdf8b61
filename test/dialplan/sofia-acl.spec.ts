import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { aclNodes, checkLoaded, profileParams, type LoadedConf } from './pack-check.ts'
import { PACK_DIR, PEOPLEFONE, SKELETON, copyTree, installPack } from './install.ts'
import { aclAllows, invite, register, type AclList } from './sofia-model.ts'

// The profile settings of the installed pack, put through mod_sofia's decisions (sofia-model.ts):
// an address outside the trunk's ranges is refused without a challenge, the trunk reaches the
// dialplan, and phones on the internal profile still authenticate.

function installed (mutate?: (conf: string) => void): LoadedConf {
  const { dir, remove } = copyTree(SKELETON)
  try {
    installPack(dir, PEOPLEFONE)
    mutate?.(dir)
    return checkLoaded(dir).loaded
  } finally {
    remove()
  }
}

function lists (loaded: LoadedConf): Record<string, AclList> {
  const nodes = aclNodes(loaded, 'trusted-providers').map((n) => ({ type: n['@type'] as 'allow' | 'deny', cidr: String(n['@cidr']) }))
  // "domains" allows the directory users' cidr attributes; the stand-in users have none.
  return { 'trusted-providers': { default: 'deny', nodes }, domains: { default: 'deny', nodes: [] } }
}

const TRUNK = '95.128.80.3'
const FAILOVER = '185.190.125.17'
const OUTSIDE = '198.51.100.23'

t.test('the ACL model follows switch_utils.c: most specific node wins, else the default', async (t) => {
  const list: AclList = { default: 'deny', nodes: [{ type: 'allow', cidr: '10.0.0.0/8' }, { type: 'deny', cidr: '10.1.0.0/16' }] }
  t.equal(aclAllows(list, '10.2.3.4'), true)
  t.equal(aclAllows(list, '10.1.3.4'), false)
  t.equal(aclAllows(list, '11.0.0.1'), false)
})

t.test('external profile: the trunk reaches the dialplan, anyone else gets 403 without a challenge', async (t) => {
  const loaded = installed()
  const external = profileParams(loaded, 'external')
  const acl = lists(loaded)
  t.same(invite(external, acl, TRUNK), { kind: 'dialplan', authenticated: false })
  t.same(invite(external, acl, FAILOVER), { kind: 'dialplan', authenticated: false })
  t.same(invite(external, acl, OUTSIDE), { kind: '403', log: `IP ${OUTSIDE} Rejected by acl "trusted-providers"` })
  t.same(invite(external, acl, '95.128.80.8'), { kind: '403', log: 'IP 95.128.80.8 Rejected by acl "trusted-providers"' }, 'just past the /29')
  t.same(register(external), { kind: '403' }, 'no REGISTER is challenged on the trunk profile')
})

t.test('internal profile: phones are challenged (digest), so directory users still authenticate', async (t) => {
  const loaded = installed()
  const internal = profileParams(loaded, 'internal')
  t.same(invite(internal, lists(loaded), OUTSIDE), { kind: 'challenge' })
  t.same(register(internal), { kind: 'challenge' })
})

t.test('auth-calls=true on the trunk profile (the first pack) challenges every outside address', async (t) => {
  const loaded = installed((conf) => {
    const p = join(conf, 'sip_profiles/external.xml')
    writeFileSync(p, readFileSync(p, 'utf8').replace('<param name="auth-calls" value="false"/>', '<param name="auth-calls" value="true"/>'))
  })
  t.same(invite(profileParams(loaded, 'external'), lists(loaded), OUTSIDE), { kind: 'challenge' })
})

t.test('the snippet says what sofia.c does', async (t) => {
  const snippet = readFileSync(join(PACK_DIR, 'snippets/external-profile.xml'), 'utf8')
  t.notMatch(snippet, /cannot fall back to digest|auth-calls stays true/i, 'the first pack\'s claim is gone')
  t.match(snippet, /sofia_handle_sip_i_invite\(\)/)
  t.match(snippet, /auth-calls is false: it logs WARNING\s+`IP %s Rejected by acl "%s"` and answers 403 Forbidden/)
  t.match(snippet, /auth-calls is true: nothing is refused there;[^]*CHALLENGED/)
  t.match(snippet, /<param name="auth-calls" value="false"\/>/)
})
