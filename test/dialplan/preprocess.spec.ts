import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { preprocessFile, xmlProblem } from './fs-preprocess.ts'

// The model of FreeSWITCH's pre-processor (preprocess() in src/switch_xml.c) on small trees:
// each case is a behaviour of the C code the pack tests rely on.

function tree (t: Test, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fs-pp-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

t.test('a directive inside an XML comment runs: the pre-processor knows no comments', async (t) => {
  const dir = tree(t, { 'main.xml': '<doc>\n<!--\n  <X-PRE-PROCESS cmd="set" data="external_rtp_ip=203.0.113.10"/>\n-->\n<a v="$${external_rtp_ip}"/>\n</doc>\n' })
  const r = preprocessFile(dir, 'main.xml')
  t.equal(r.vars.get('external_rtp_ip'), '203.0.113.10')
  t.match(r.text, /<a v="203\.0\.113\.10"\/>/)
})

t.test('a commented include of the file itself recurses past 100 levels and breaks the XML', async (t) => {
  const dir = tree(t, { 'vars.xml': '<include>\n<!--\n  <X-PRE-PROCESS cmd="include" data="vars.xml"/>\n-->\n</include>\n', 'main.xml': '<doc>\n<X-PRE-PROCESS cmd="include" data="vars.xml"/>\n</doc>\n' })
  const r = preprocessFile(dir, 'main.xml')
  t.ok(r.problems.some((p) => p.kind === 'recursion' && /Maximum recursion limit reached/.test(p.detail)))
  t.equal(r.files.filter((f) => f.endsWith('vars.xml')).length, 100, 'levels 1 to 100 read it, level 101 is refused')
  t.match(xmlProblem(r.text), /^unclosed <!--/, 'a comment opened inside a comment: FreeSWITCH\'s "unclosed <!--"')
})

t.test('"--" inside a comment is the parser\'s "unclosed <!--", as switch_xml_parse_str() says', async (t) => {
  t.match(xmlProblem('<doc><!-- a -- b --></doc>'), /^unclosed <!--/)
  t.equal(xmlProblem('<doc><!-- a - b --><c/></doc>'), undefined)
})

t.test('lines with <include>, </include> or <? are dropped whole', async (t) => {
  const dir = tree(t, { 'main.xml': '<?xml version="1.0"?>\n<doc>\n<include><b/></include>\n<c/>\n</doc>\n' })
  t.equal(preprocessFile(dir, 'main.xml').text, '<doc>\n<c/>\n</doc>\n')
})

t.test('a line naming the directive without "<" before it is dropped, even mid-comment', async (t) => {
  const dir = tree(t, { 'main.xml': '<doc>\n<!-- never comment out an X-PRE-PROCESS line -->\n<c/>\n</doc>\n' })
  t.equal(preprocessFile(dir, 'main.xml').text, '<doc>\n<c/>\n</doc>\n')
})

t.test('an unset $${variable} expands to nothing (a problem here, silent in FreeSWITCH)', async (t) => {
  const dir = tree(t, { 'main.xml': '<doc a="x$${nowhere}y"/>\n' })
  const r = preprocessFile(dir, 'main.xml')
  t.equal(r.text, '<doc a="xy"/>\n')
  t.same(r.problems.map((p) => [p.kind, p.detail]), [['unset-variable', 'nowhere']])
})

t.test('set trims blanks around "=", stun-set keeps the variable unset when the lookup fails', async (t) => {
  const dir = tree(t, { 'main.xml': '<doc>\n<X-PRE-PROCESS cmd="set" data="a = b c"/>\n<X-PRE-PROCESS cmd="stun-set" data="ip=stun:stun.example"/>\n</doc>\n' })
  const failed = preprocessFile(dir, 'main.xml', { stun: () => undefined })
  t.equal(failed.vars.get('a'), 'b c')
  t.equal(failed.vars.has('ip'), false)
  t.equal(preprocessFile(dir, 'main.xml', { stun: () => '100.64.0.1' }).vars.get('ip'), '100.64.0.1')
})

t.test('an include that matches nothing is reported; includes are relative to the including file', async (t) => {
  const dir = tree(t, { 'main.xml': '<doc>\n<X-PRE-PROCESS cmd="include" data="missing/*.xml"/>\n</doc>\n' })
  t.same(preprocessFile(dir, 'main.xml').problems.map((p) => p.kind), ['dangling-include'])
})

t.test('the <!--# form is a directive too', async (t) => {
  const dir = tree(t, { 'main.xml': '<doc>\n<!--#set "a=1"-->\n<b v="$${a}"/>\n</doc>\n' })
  t.match(preprocessFile(dir, 'main.xml').text, /<b v="1"\/>/)
})
