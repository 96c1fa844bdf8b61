import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { directivesInComments } from './fs-preprocess.ts'
import { aclNodes, checkLoaded, configuration, profileParams } from './pack-check.ts'
import { PACK_DIR, PEOPLEFONE, SKELETON, VARS_INCLUDE_LINE, applySnippet, copyPack, copyTree, fillAcl, fillNat, fillVars, installGateway, installPack, realVanillaTree, type InstallAnswers } from './install.ts'
import { listPackFiles } from '../guard/dialplan-sim.ts'

// The pack, installed as docs/freeswitch-pack.md says, must load in FreeSWITCH: these tests run
// FreeSWITCH's pre-processor (modelled in fs-preprocess.ts) over a vanilla tree plus the pack.

const VARIANTS: ReadonlyArray<readonly [string, InstallAnswers]> = [
  ['peoplefone, registration', PEOPLEFONE],
  ['peoplefone, IP authentication', { ...PEOPLEFONE, variant: 'ip-auth' }],
  ['messagenet, registration', { ...PEOPLEFONE, provider: 'messagenet', dids: '390212345678|0212345678', outboundCid: '+390212345678', providerRanges: ['212.97.59.0/24'] }],
]

const real = realVanillaTree()
const TREES: ReadonlyArray<readonly [string, string]> = [['stand-in vanilla tree', SKELETON], ...(real ? [['real vanilla tree', real] as const] : [])]

t.test('no pre-processor line inside a comment in any pack file', async (t) => {
  const files = listPackFiles().filter((f) => f.endsWith('.xml'))
  t.ok(files.length >= 14, `found ${files.length} files`)
  for (const f of files) t.same(directivesInComments(readFileSync(f, 'utf8')), [], relative(PACK_DIR, f))
  // The check itself finds what broke FreeSWITCH: a commented include, in any case.
  t.same(directivesInComments('<!--\n  <X-PRE-PROCESS cmd="include" data="phone_agent_vars.xml"/>\n-->'), ['<X-PRE-PROCESS cmd="include" data="phone_agent_vars.xml"/>'])
  t.equal(directivesInComments('<!-- see the x-pre-process line in the docs -->').length, 1)
})

if (!real) t.comment('real vanilla tree: skipped (set FREESWITCH_VANILLA_CONF to a FreeSWITCH conf/vanilla directory to run it)')

for (const [treeName, tree] of TREES) {
  for (const [name, answers] of VARIANTS) {
    t.test(`${treeName}, ${name}: installed as the docs say, it loads with nothing left to edit`, async (t) => {
      const { dir, remove } = copyTree(tree)
      t.teardown(remove)
      installPack(dir, answers)
      const { problems, loaded } = checkLoaded(dir, { publicIp: answers.publicIp })
      t.same(problems, [])

      const external = profileParams(loaded, 'external')
      t.equal(external['apply-inbound-acl'], 'trusted-providers')
      t.equal(external['auth-calls'], 'false', 'the ACL is the only authority: a refused address gets 403, not a challenge')
      t.equal(external['disable-register'], 'true')
      t.equal(external['log-auth-failures'], 'true')
      t.equal(external['ext-sip-ip'], answers.publicIp)
      t.equal(external['inbound-codec-prefs'], 'PCMA,PCMU')
      const internal = profileParams(loaded, 'internal')
      t.equal(internal['auth-calls'], 'true', 'phones still authenticate with their directory password')
      t.equal(internal['log-auth-failures'], 'true')

      const cidrs = aclNodes(loaded, 'trusted-providers').map((n) => n['@cidr'])
      if (answers.provider === 'peoplefone') t.same(cidrs, ['95.128.80.0/29', '185.190.125.0/27'])
      else t.same(cidrs, answers.providerRanges)

      const esl = configuration(loaded, 'event_socket.conf') as { settings: { param: Array<Record<string, string>> } }
      const eslParam = (n: string): string | undefined => esl.settings.param.find((p) => p['@name'] === n)?.['@value']
      t.equal(eslParam('password'), answers.eslPassword)
      t.equal(eslParam('listen-ip'), '127.0.0.1')
      t.equal(loaded.result.vars.get('phone_agent_gateway'), answers.provider)
    })
  }

  t.test(`${treeName}: the pack as shipped (steps 1-3 only) loads, its only placeholders marked REPLACE_ME`, async (t) => {
    const { dir, remove } = copyTree(tree)
    t.teardown(remove)
    copyPack(dir)
    t.same(checkLoaded(dir, { allowPlaceholders: true }).problems, [])
    const left = checkLoaded(dir).problems
    t.ok(left.length > 0)
    for (const p of left) t.match(p, /REPLACE_ME|192\.0\.2\.0\/29|default_password is still 1234/, p)
  })
}

/** Install peoplefone into the stand-in tree, then break the installed copy with `mutate`. */
function problemsAfter (mutate: (conf: string) => void): string[] {
  const { dir, remove } = copyTree(SKELETON)
  try {
    installPack(dir, PEOPLEFONE)
    mutate(dir)
    return checkLoaded(dir, { publicIp: PEOPLEFONE.publicIp }).problems
  } finally {
    remove()
  }
}

const appendToVars = (conf: string, text: string): void => {
  const path = join(conf, 'phone_agent_vars.xml')
  const s = readFileSync(path, 'utf8')
  writeFileSync(path, s.replace('</include>', () => `${text}\n</include>`))
}

t.test('defects of the first pack are caught when put back', async (t) => {
  const selfInclude = problemsAfter((c) => { appendToVars(c, '  <!--\n    <X-PRE-PROCESS cmd="include" data="phone_agent_vars.xml"/>\n  -->') })
  t.ok(selfInclude.some((p) => /recursion/.test(p)), 'a commented self-include recurses')
  t.ok(selfInclude.some((p) => /read more than once/.test(p)))

  const nat = problemsAfter((c) => {
    appendToVars(c, '  <!--\n    <X-PRE-PROCESS cmd="set" data="external_rtp_ip=203.0.113.10"/>\n    <X-PRE-PROCESS cmd="set" data="external_sip_ip=203.0.113.10"/>\n  -->')
  })
  t.ok(nat.some((p) => /variable external_rtp_ip is a placeholder: 203\.0\.113\.10/.test(p)), 'a commented NAT example sets the address')
  t.ok(nat.some((p) => /external_sip_ip is 203\.0\.113\.10, expected/.test(p)))

  const dangling = problemsAfter((c) => { appendToVars(c, '  <X-PRE-PROCESS cmd="include" data="phone_agent_missing.xml"/>') })
  t.ok(dangling.some((p) => /dangling-include: phone_agent_missing\.xml/.test(p)))

  const unset = problemsAfter((c) => { appendToVars(c, '  <X-PRE-PROCESS cmd="set" data="phone_agent_x=$${phone_agent_nowhere}"/>') })
  t.ok(unset.some((p) => /unset variable \$\$\{phone_agent_nowhere\}/.test(p)))

  const placeholder = problemsAfter((c) => {
    const path = join(c, 'phone_agent_vars.xml')
    writeFileSync(path, readFileSync(path, 'utf8').replace(/phone_agent_gateway=peoplefone/, 'phone_agent_gateway=REPLACE_ME'))
  })
  t.ok(placeholder.some((p) => /variable phone_agent_gateway is a placeholder/.test(p)))

  const vanillaDid = problemsAfter((c) => {
    writeFileSync(join(c, 'dialplan/public/00_inbound_did.xml'), readFileSync(join(SKELETON, 'dialplan/public/00_inbound_did.xml')))
  })
  t.ok(vanillaDid.some((p) => /public_did transfers outside callers to the default context/.test(p)), 'step 2 matters')
})

t.test('each install step is needed: skipping one leaves a problem', async (t) => {
  const steps: ReadonlyArray<readonly [string, (c: string) => void]> = [
    ['fillVars', (c) => { fillVars(c, PEOPLEFONE) }],
    ['fillAcl', (c) => { fillAcl(c, PEOPLEFONE) }],
    ['installGateway', (c) => { installGateway(c, PEOPLEFONE) }],
    ['fillNat', (c) => { fillNat(c, PEOPLEFONE) }],
  ]
  for (const [skipped] of steps) {
    const { dir, remove } = copyTree(SKELETON)
    try {
      copyPack(dir)
      for (const [name, run] of steps) if (name !== skipped) run(dir)
      applySnippet(dir, 'external')
      applySnippet(dir, 'internal')
      const { problems } = checkLoaded(dir, { publicIp: PEOPLEFONE.publicIp })
      t.ok(problems.length > 0, `without ${skipped}: ${problems[0] ?? 'no problem found'}`)
    } finally {
      remove()
    }
  }
})

t.test('docs/freeswitch-pack.md gives the steps install.ts performs', async (t) => {
  const doc = readFileSync(new URL('../../docs/freeswitch-pack.md', import.meta.url), 'utf8')
  t.ok(doc.includes(VARS_INCLUDE_LINE), 'the include line of step 3')
  t.match(doc, /rm \/etc\/freeswitch\/dialplan\/public\/00_inbound_did\.xml/)
  t.match(doc, /Restart FreeSWITCH/)
  t.match(doc, /mod_voicemail/)
  t.match(doc, /Run `phone-agent doctor`/)
})
