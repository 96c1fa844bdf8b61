import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { XMLValidator } from 'fast-xml-parser'

/**
 * A model of FreeSWITCH's XML pre-processor, `preprocess()` in src/switch_xml.c, run by
 * switch_xml_parse_file() on freeswitch.xml before the XML parser sees anything. It is line
 * based and knows nothing about XML, which is the point of modelling it:
 *
 * - Each line (switch_fp_read_dline keeps the newline) first has `$${name}` expanded from the
 *   core variables set so far (expand_vars); an unset name expands to nothing, silently.
 * - A raw line containing `<include>`, `</include>` or `<?` is dropped whole.
 * - A line containing `X-PRE-PROCESS` (any case, switch_stristr) is a directive when the
 *   character before it is `<`, and is dropped otherwise. There is no notion of an XML comment:
 *   a directive inside `<!-- ... -->` RUNS. (vanilla vars.xml says so itself: "YOU CAN NOT
 *   COMMENT OUT AN X-PRE-PROCESS line".) Whatever follows `/>` on the line is written out.
 * - `<!--#cmd arg-->` is the other directive syntax; only it opens a multi-line state (`ml`).
 * - `include` globs relative to the including file's directory (preprocess_glob), sorted;
 *   more than 100 levels is "Maximum recursion limit reached"; no match is only an INFO log.
 * - `set name=value` trims blanks around `=`; `stun-set` sets the address a STUN lookup
 *   returned (nothing when it fails); `env-set` copies an environment variable; `exec` and
 *   `exec-set` run a shell command.
 *
 * Everything FreeSWITCH would only log is collected as a Problem, so a test can fail on it.
 */

export type ProblemKind = 'recursion' | 'dangling-include' | 'unset-variable' | 'unterminated-variable' | 'exec' | 'unreadable'

export interface Problem {
  readonly kind: ProblemKind
  readonly file: string
  readonly line: number
  readonly detail: string
}

export interface PreprocessOptions {
  /** Core variables FreeSWITCH sets before reading any file (switch_core.c). */
  readonly coreVars?: Readonly<Record<string, string>>
  /** What a STUN lookup of `stun-set name=server` returns; undefined models a failed lookup. */
  readonly stun?: (server: string) => string | undefined
  readonly env?: Readonly<Record<string, string | undefined>>
}

export interface PreprocessResult {
  /** The text handed to the XML parser (FreeSWITCH writes it to log/freeswitch.xml.fsxml). */
  readonly text: string
  readonly vars: ReadonlyMap<string, string>
  readonly problems: readonly Problem[]
  /** Every file read, in order (a file read twice appears twice). */
  readonly files: readonly string[]
  /** The text each file contributed, by file (for checks that only concern some files). */
  readonly textByFile: ReadonlyMap<string, string>
}

/** Variables switch_core.c sets (switch_core_set_globals, switch_core_init) with plausible values. */
export const CORE_VARS: Readonly<Record<string, string>> = {
  base_dir: '/usr', conf_dir: '/etc/freeswitch', sounds_dir: '/usr/share/freeswitch/sounds',
  recordings_dir: '/var/lib/freeswitch/recordings', images_dir: '/var/lib/freeswitch/images',
  storage_dir: '/var/lib/freeswitch/storage', cache_dir: '/var/cache/freeswitch', data_dir: '/usr/share/freeswitch',
  db_dir: '/var/lib/freeswitch/db', log_dir: '/var/log/freeswitch', run_dir: '/var/run/freeswitch',
  mod_dir: '/usr/lib/freeswitch/mod', script_dir: '/usr/share/freeswitch/scripts', grammar_dir: '/usr/share/freeswitch/grammar',
  htdocs_dir: '/usr/share/freeswitch/htdocs', fonts_dir: '/usr/share/freeswitch/fonts', certs_dir: '/etc/freeswitch/tls',
  localstate_dir: '/var/lib/freeswitch', temp_dir: '/tmp', sound_prefix: '/usr/share/freeswitch/sounds',
  hostname: 'pbx', local_ip_v4: '10.0.0.5', local_mask_v4: '255.255.255.0', local_ip_v6: '::1',
  core_uuid: '00000000-0000-4000-8000-000000000000',
}

const MAX_LEVEL = 100

export function preprocessFile (confDir: string, file: string, options: PreprocessOptions = {}): PreprocessResult {
  const vars = new Map(Object.entries(options.coreVars ?? CORE_VARS))
  const problems: Problem[] = []
  const files: string[] = []
  const out: string[] = []
  const byFile = new Map<string, string>()
  let current = ''
  const write = (text: string): void => {
    out.push(text)
    byFile.set(current, (byFile.get(current) ?? '') + text)
  }

  const expand = (line: string, file: string, lineNo: number): string => {
    if (!line.includes('$${')) return line
    let result = ''
    let i = 0
    while (i < line.length) {
      if (line.startsWith('$${', i)) {
        const end = line.indexOf('}', i + 3)
        if (end < 0) {
          problems.push({ kind: 'unterminated-variable', file, line: lineNo, detail: line.trim() })
          result += line.slice(i)
          break
        }
        const name = line.slice(i + 3, end)
        const value = vars.get(name)
        if (value === undefined) problems.push({ kind: 'unset-variable', file, line: lineNo, detail: name })
        result += value ?? ''
        i = end + 1
        continue
      }
      result += line[i]
      i++
    }
    return result
  }

  const setVar = (keyval: string): void => {
    const eq = keyval.indexOf('=')
    if (eq < 0) return
    vars.set(keyval.slice(0, eq).trimEnd(), keyval.slice(eq + 1).replace(/^ +/, ''))
  }

  const run = (cmd: string, arg: string, cwd: string, file: string, lineNo: number, level: number): void => {
    switch (cmd.toLowerCase()) {
      case 'set': setVar(arg); break
      case 'stun-set': {
        const eq = arg.indexOf('=')
        if (eq < 0) break
        const ip = options.stun?.(arg.slice(eq + 1).trim())
        if (ip !== undefined) vars.set(arg.slice(0, eq).trim(), ip)
        break
      }
      case 'env-set': {
        // preprocess_env_set: `name=$ENVNAME`
        const eq = arg.indexOf('=')
        if (eq < 0 || arg[eq + 1] !== '$') break
        const value = options.env?.[arg.slice(eq + 2)]
        if (value !== undefined) vars.set(arg.slice(0, eq), value)
        break
      }
      case 'include': glob(cwd, arg, file, lineNo, level + 1); break
      case 'exec': case 'exec-set':
        problems.push({ kind: 'exec', file, line: lineNo, detail: arg })
        break
    }
  }

  const glob = (cwd: string, pattern: string, file: string, lineNo: number, level: number): void => {
    const full = isAbsolute(pattern) ? pattern : join(cwd, pattern)
    const matches = globFiles(full)
    if (matches.length === 0) {
      problems.push({ kind: 'dangling-include', file, line: lineNo, detail: pattern })
      return
    }
    for (const m of matches) {
      if (!processFile(dirname(m), m, level) && level > MAX_LEVEL) {
        problems.push({ kind: 'recursion', file, line: lineNo, detail: `Error including ${full} (Maximum recursion limit reached)` })
      }
    }
  }

  const processFile = (cwd: string, file: string, level: number): boolean => {
    if (level > MAX_LEVEL) return false
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      problems.push({ kind: 'unreadable', file, line: 0, detail: String(err) })
      return false
    }
    files.push(file)
    const outer = current
    current = file
    const lines = text.match(/[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$/g) ?? []
    let ml = false
    let lineNo = 0
    for (const raw of lines) {
      lineNo++
      let bp = expand(raw, file, lineNo)
      if (raw.includes('<include>') || raw.includes('</include>') || raw.includes('<?')) continue
      if (ml) {
        const e = raw.indexOf('-->')
        if (e < 0) continue
        ml = false
        bp = raw.slice(e + 3)
      }
      const at = bp.toLowerCase().indexOf('x-pre-process')
      if (at >= 0) {
        if (at === 0 || bp[at - 1] !== '<') continue
        const close = bp.indexOf('/>', at)
        if (close >= 0) write(bp.slice(close + 2))
        const m = /cmd\s*=\s*"([^"]*)"[^]*?data\s*=\s*"([^"]*)"/i.exec(bp.slice(at))
        if (m) run(m[1]!, m[2]!, cwd, file, lineNo, level)
        current = file
        continue
      }
      const hash = bp.indexOf('<!--#')
      if (hash >= 0) {
        write(bp.slice(0, hash))
        const end = bp.indexOf('-->', hash)
        if (end >= 0) write(bp.slice(end + 3))
        else ml = true
        let body = bp.slice(hash + 5, end >= 0 ? end : undefined).replace(/[\r\n].*$/s, '')
        const sp = body.indexOf(' ')
        if (sp >= 0) {
          const cmd = body.slice(0, sp)
          body = body.slice(sp + 1)
          const q = /"([^"]*)"/.exec(body)
          run(cmd, q ? q[1]! : body, cwd, file, lineNo, level)
          current = file
        }
        continue
      }
      write(bp)
    }
    current = outer
    return true
  }

  processFile(confDir, isAbsolute(file) ? file : join(confDir, file), 0)
  return { text: out.join(''), vars, problems, files, textByFile: byFile }
}

/** glob(3) for the patterns configuration files use: `*` and `?` in the last path segments. */
export function globFiles (pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) return existsSync(pattern) && statSync(pattern).isFile() ? [pattern] : []
  const parts = pattern.split('/')
  let bases = [parts[0] === '' ? '/' : parts[0]!]
  for (const part of parts.slice(1)) {
    const next: string[] = []
    for (const base of bases) {
      if (!/[*?[]/.test(part)) {
        const p = join(base, part)
        if (existsSync(p)) next.push(p)
        continue
      }
      if (!existsSync(base) || !statSync(base).isDirectory()) continue
      const re = new RegExp('^' + part.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$')
      // glob(3) skips dot files unless the pattern names them.
      for (const entry of readdirSync(base).sort()) if (re.test(entry) && !entry.startsWith('.')) next.push(join(base, entry))
    }
    bases = next
  }
  return bases.filter((p) => statSync(p).isFile())
}

/**
 * The XML parser's verdict on the pre-processed text. fast-xml-parser's validator, plus the one
 * rule of switch_xml_parse_str() (src/switch_xml.c) it does not enforce: inside a comment the
 * first "--" must be the "-->" that ends it, else "unclosed <!--". A comment opened inside a
 * comment (what a recursive include writes) fails there.
 */
export function xmlProblem (text: string): string | undefined {
  let at = text.indexOf('<!--')
  while (at >= 0) {
    const dashes = text.indexOf('--', at + 4)
    if (dashes < 0 || text[dashes + 2] !== '>') {
      return `unclosed <!-- (line ${text.slice(0, at).split('\n').length})`
    }
    at = text.indexOf('<!--', dashes + 3)
  }
  const r = XMLValidator.validate(text, { allowBooleanAttributes: true })
  return r === true ? undefined : `${r.err.code}: ${r.err.msg} (line ${r.err.line})`
}

/** The text outside XML comments: what FreeSWITCH's XML parser keeps. */
export function activeText (xml: string): string {
  return xml.replace(/<!--[^]*?-->/g, '')
}

/** `X-PRE-PROCESS` (any case) anywhere inside an XML comment of a source file. */
export function directivesInComments (source: string): string[] {
  const found: string[] = []
  for (const m of source.matchAll(/<!--[^]*?-->/g)) {
    if (/x-pre-process/i.test(m[0])) found.push(m[0].split('\n').find((l) => /x-pre-process/i.test(l))!.trim())
  }
  return found
}
