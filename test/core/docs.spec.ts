import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { configReference, documentedEntries, REFERENCE_FILE } from '../../lib/config/reference.ts'
import { DESCRIPTIONS } from '../../lib/config/descriptions.ts'
import { beepWav, BEEP_FILE } from '../../lib/media/beep.ts'

// Docs a newcomer can use, and a repository with nothing stray in it.

const root = fileURLToPath(new URL('../../', import.meta.url))
const read = (path: string): string => readFileSync(join(root, path), 'utf8')
const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)

t.test('the README is short and says where to go next', async (t) => {
  const readme = read('README.md')
  const lines = readme.split('\n').length
  t.ok(lines <= 300, `README.md is ${lines} lines`)
  for (const heading of ['## Quick start', '## Your own agent in ten minutes', '## A first script', '## Documentation']) {
    t.match(readme, heading)
  }
  t.match(readme, /npx phone-agent init \.\.\/my-agent/)
  t.match(readme, /file:\.\.\/phone-agent/, 'says the project depends on the clone by path until published')
})

t.test('docs/ has a page per topic', async (t) => {
  for (const topic of ['configuration', 'configuration-reference', 'scripts', 'providers', 'freeswitch-pack', 'transfers', 'operations', 'architecture', 'simulator', 'benchmarks']) {
    t.ok(existsSync(join(root, 'docs', `${topic}.md`)), `docs/${topic}.md`)
  }
})

t.test('every relative link in the README and docs/ reaches a file, and its anchor a heading', async (t) => {
  for (const file of ['README.md', ...docs]) {
    const text = read(file)
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!
      if (/^[a-z]+:/.test(target)) continue
      const [path, anchor] = target.split('#') as [string, string | undefined]
      const abs = path === '' ? join(root, file) : resolve(dirname(join(root, file)), path)
      t.ok(existsSync(abs), `${file}: ${target}`)
      if (anchor !== undefined && abs.endsWith('.md') && existsSync(abs)) {
        t.ok(slugs(readFileSync(abs, 'utf8')).has(anchor), `${file}: ${target} (anchor)`)
      }
    }
  }
})

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function slugs (markdown: string): Set<string> {
  const out = new Set<string>()
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const m = /^#{1,6} (.+)$/.exec(line)
    if (fenced || m === null) continue
    out.add(m[1]!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'))
  }
  return out
}

t.test('the configuration reference is generated from the schema and up to date', async (t) => {
  const missing = documentedEntries().filter((e) => e.text === undefined).map((e) => e.path)
  t.same(missing, [], 'every key has a description: add it to lib/config/descriptions.ts (or .meta({ description }) on the schema)')
  const paths = new Set(documentedEntries().map((e) => e.path))
  const stale = Object.keys(DESCRIPTIONS).filter((p) => !paths.has(p))
  t.same(stale, [], 'no description for a key the schema no longer has')
  t.equal(readFileSync(REFERENCE_FILE, 'utf8'), configReference(), 'docs/configuration-reference.md is current: run npm run docs:config')
})

t.test('LICENSE is the MIT licence package.json names', async (t) => {
  t.equal(JSON.parse(read('package.json')).license, 'MIT')
  t.match(read('LICENSE'), /^MIT License\n\nCopyright \(c\) \d{4}/)
  t.match(read('LICENSE'), /THE SOFTWARE IS PROVIDED "AS IS"/)
})

t.test('no empty or stray files are tracked', async (t) => {
  let files: string[]
  try {
    files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter((f) => f !== '')
  } catch {
    t.pass('not a git checkout: nothing to look at')
    return
  }
  const empty = files.filter((f) => existsSync(join(root, f)) && statSync(join(root, f)).size === 0 && !f.endsWith('.gitkeep'))
  t.same(empty, [], 'no empty tracked files')
  t.notOk(files.includes('x'))
})

t.test('sounds/beep.wav is the generated tone, byte for byte', async (t) => {
  t.same(readFileSync(BEEP_FILE), beepWav(), 'regenerate with npm run sounds')
})

t.test('every dependency with an install script is declared in allowScripts', async (t) => {
  const pkg = JSON.parse(read('package.json')) as { allowScripts?: Record<string, boolean> }
  const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { hasInstallScript?: boolean }> }
  const withScripts = Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && p.hasInstallScript === true)
    .map(([path]) => path.split('node_modules/').at(-1)!)
  t.ok(withScripts.length > 0, 'the lockfile lists install scripts')
  for (const name of new Set(withScripts)) {
    t.type(pkg.allowScripts?.[name], 'boolean', `${name} is allowed or denied on purpose, so npm never skips it silently`)
  }
  t.equal(pkg.allowScripts?.['better-sqlite3'], true, 'the native SQLite binding must build')
})
