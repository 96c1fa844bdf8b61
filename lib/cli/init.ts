import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { basename, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isKnownCountry, toE164 } from '../numbers/e164.ts'
import { PhoneAgentError } from '../errors.ts'
import { parseCommandArgs, type Command } from './command.ts'
import { exampleNumber } from './numbers.ts'
import { callerAllowPrefixes, type GuardConfig } from '../guard/config.ts'
import { projectFiles } from './init-templates.ts'

export const INIT_USAGE = `Usage: phone-agent init [DIR] [--country CC] [--number DID] [--force]

Creates a project for your own agent in DIR (default: the current directory):

  package.json        depends on phone-agent; npm scripts check, call, serve, typecheck
  tsconfig.json       so your editor and \`npm run typecheck\` know the phone-agent API
  phone-agent.yaml    your number routed to scripts/hello.ts, commented
  scripts/hello.ts    a first call script: greeting, message after the tone, goodbye
  README.md           the next steps

Then: cd DIR && npm install && npx phone-agent call --say "Hello"

  --country CC   Your country (ISO code: US, GB, IT, DE...): how national numbers are read and
                 which callers are admitted by default. Default: from $LANG, else US.
  --number DID   Your phone number (default: an example number of the country)
  --force        Overwrite files that already exist
`

const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export const initCommand: Command = {
  usage: INIT_USAGE,
  async run (argv, io) {
    const { values, positionals } = parseCommandArgs(argv, {
      country: { type: 'string' }, number: { type: 'string' }, force: { type: 'boolean' },
    }, true)
    if (positionals.length > 1) { io.err.write(`phone-agent init: one directory, not ${positionals.length}\n`); return 2 }
    const dir = resolve(io.cwd, positionals[0] ?? '.')
    const country = (values.country ?? countryFromLocale(io.env) ?? 'US').toUpperCase()
    if (!isKnownCountry(country)) throw new PhoneAgentError('CONFIG_INVALID', `--country ${country} is not a country code (US, GB, IT, DE, ...)`)
    const did = values.number === undefined ? exampleNumber(country, 'did') : toE164(values.number, country)
    if (did === undefined) throw new PhoneAgentError('CONFIG_INVALID', `--number ${values.number ?? ''} is not a phone number in ${country}`)

    const pkg = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as PackageJson
    const files = projectFiles({
      name: packageName(basename(dir)),
      dependency: dependencySpec(dir, pkg.version),
      devDependencies: { typescript: pkg.devDependencies?.typescript ?? '*', '@types/node': pkg.devDependencies?.['@types/node'] ?? '*' },
      allowScripts: pkg.allowScripts ?? {},
      country,
      did,
      callingCode: callerAllowPrefixes({ callers: {} as GuardConfig['callers'] }, country)[0] ?? '+',
      docs: join(relative(dir, PACKAGE_ROOT) === '' ? '.' : 'node_modules/phone-agent', 'docs'),
    })
    const existing: string[] = []
    for (const name of Object.keys(files)) if (await stat(join(dir, name)).then(() => true, () => false)) existing.push(name)
    if (existing.length > 0 && values.force !== true) {
      io.err.write(`phone-agent init: ${dir} already has ${existing.join(', ')}; use --force to overwrite\n`)
      return 1
    }
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true })
      await writeFile(join(dir, name), text)
    }
    const shown = relative(io.cwd, dir) || '.'
    io.out.write(`Created a phone-agent project in ${dir}:\n${Object.keys(files).map((f) => `  ${f}`).join('\n')}\n\n` +
      `Next:\n  cd ${shown}\n  npm install\n  npx phone-agent call --say "Hello, I would like to leave a message"\n\n` +
      'Then edit scripts/hello.ts and phone-agent.yaml; README.md in the project says what comes next.\n')
    return 0
  },
}

interface PackageJson {
  readonly version: string
  readonly devDependencies?: Record<string, string>
  readonly allowScripts?: Record<string, boolean>
}

/**
 * Until the package is published, the project depends on this clone by path (npm links it, so
 * no download); installed from the registry, it depends on the same version.
 */
function dependencySpec (dir: string, version: string): string {
  if (PACKAGE_ROOT.includes(`${'/'}node_modules${'/'}`)) return `^${version}`
  const path = relative(dir, PACKAGE_ROOT).replace(/\\/g, '/') || '.'
  return `file:${path.startsWith('.') ? path : `./${path}`}`
}

/** `en_US.UTF-8` -> US. */
function countryFromLocale (env: NodeJS.ProcessEnv): string | undefined {
  const locale = env.LC_ALL ?? env.LC_TELEPHONE ?? env.LANG ?? ''
  const m = /^[a-z]{2,3}_([A-Z]{2})/.exec(locale)
  return m?.[1] !== undefined && isKnownCountry(m[1]) ? m[1] : undefined
}

/** npm package names: lower case, no spaces, at most 214 characters. */
function packageName (base: string): string {
  const name = base.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '').slice(0, 214)
  return name === '' ? 'my-phone-agent' : name
}
