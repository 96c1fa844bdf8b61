import { spawn, execFile } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { delimiter, isAbsolute, join } from 'node:path'
import { promisify } from 'node:util'
import { ConfigError, PhoneAgentError, abortReason } from '../../errors.ts'

/**
 * Optional espeak-ng for the languages flite lacks (Italian, German, French, ...).
 *
 * espeak-ng is GPL-3.0: we never link or bundle it, only run a binary the operator installed
 * (`apt-get install espeak-ng`), with an argv array (no shell) and the text on stdin.
 */

const execFileAsync = promisify(execFile)

/** Same shape as the config schema's language tag; anything else never reaches an argv. */
const LANGUAGE_TAG = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/
/** Generous: a few minutes of 22 kHz speech is ~10 MB. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024

export interface Espeak {
  readonly path: string
  /**
   * Language codes espeak-ng has a voice for, lower case (`it`, `en-us`, `pt-br`), including
   * each voice's alternates (`fr` from `fr-fr (fr 5)`): all valid values for `-v`.
   */
  readonly languages: ReadonlySet<string>
}

/** The first executable called `name` on a PATH-style list, or undefined. */
export async function findExecutable (name: string, searchPath: string = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of searchPath.split(delimiter)) {
    // An empty or relative PATH entry means "the current directory": never trust it.
    if (dir === '' || !isAbsolute(dir)) continue
    const candidate = join(dir, name)
    try {
      await access(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

/**
 * Parse `espeak-ng --voices`:
 * ` 5  fr-fr           --/M      French_(France)    roa/fr               (fr 5)`.
 */
export function parseVoiceList (output: string): Set<string> {
  const languages = new Set<string>()
  for (const line of output.split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/)
    const language = columns[1]?.toLowerCase()
    if (language !== undefined && LANGUAGE_TAG.test(language)) languages.add(language)
    for (const match of line.matchAll(/\(([A-Za-z0-9-]+) \d+\)/g)) {
      const other = match[1]?.toLowerCase()
      if (other !== undefined && LANGUAGE_TAG.test(other)) languages.add(other)
    }
  }
  return languages
}

/**
 * Find espeak-ng: at `path` when configured (then failing is a config error: the operator
 * asked for it), otherwise on PATH (then absence just means "English only").
 */
export async function detectEspeak (options: { path?: string | undefined, searchPath?: string, signal?: AbortSignal } = {}): Promise<Espeak | undefined> {
  const configured = options.path
  const path = configured ?? await findExecutable('espeak-ng', options.searchPath)
  if (path === undefined) return undefined
  let stdout: string
  try {
    ;({ stdout } = await execFileAsync(path, ['--voices'], { timeout: 10_000, maxBuffer: 1024 * 1024, signal: options.signal }))
  } catch (cause) {
    if (options.signal?.aborted === true) throw abortReason(options.signal)
    if (configured !== undefined) throw new ConfigError('speech.tts.offline.espeakPath', 'cannot run espeak-ng there', { cause })
    return undefined
  }
  const languages = parseVoiceList(stdout)
  if (languages.size === 0) {
    if (configured !== undefined) throw new ConfigError('speech.tts.offline.espeakPath', 'espeak-ng --voices listed no voices')
    return undefined
  }
  return { path, languages }
}

/** The `-v` value for a BCP-47 tag: the exact regional voice if any, else the language's. */
export function espeakVoiceFor (espeak: Espeak, language: string): string | undefined {
  const tag = language.toLowerCase()
  if (!LANGUAGE_TAG.test(tag)) return undefined
  const primary = tag.split('-')[0] ?? tag
  for (const candidate of [tag, primary]) {
    if (espeak.languages.has(candidate)) return candidate
  }
  return undefined
}

/** Run espeak-ng; resolves with the WAV it writes to stdout (sizes in the header are placeholders). */
export function runEspeak (espeak: Espeak, text: string, voice: string, signal?: AbortSignal): Promise<Buffer> {
  if (signal?.aborted) return Promise.reject(abortReason(signal))
  if (!espeak.languages.has(voice)) return Promise.reject(new PhoneAgentError('TTS_FAILED', `espeak-ng has no voice ${JSON.stringify(voice)}`))
  return new Promise<Buffer>((resolve, reject) => {
    // -b 1: the input is UTF-8. --stdin: the text never appears on a command line.
    const child = spawn(espeak.path, ['-v', voice, '-b', '1', '--stdin', '--stdout'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      signal,
    })
    const out: Buffer[] = []
    let outBytes = 0
    let stderr = ''
    let failure: PhoneAgentError | undefined
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length
      if (outBytes > MAX_OUTPUT_BYTES) {
        failure ??= new PhoneAgentError('TTS_FAILED', 'espeak-ng output too large')
        child.kill('SIGKILL')
        return
      }
      out.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString('utf8')
    })
    child.on('error', (err) => {
      if (signal?.aborted === true) failure = abortReason(signal)
      failure ??= new PhoneAgentError('TTS_FAILED', 'cannot run espeak-ng', { cause: err })
    })
    // 'close' comes after 'error' and after stdio has drained, so it is the one place to settle.
    child.on('close', (code, killedBy) => {
      if (signal?.aborted === true) failure = abortReason(signal)
      if (failure !== undefined) return reject(failure)
      if (code !== 0) {
        return reject(new PhoneAgentError('TTS_FAILED', `espeak-ng failed (${code ?? killedBy ?? '?'})`, { cause: new Error(stderr.trim().slice(0, 500)) }))
      }
      resolve(Buffer.concat(out))
    })
    // A child that dies early closes its stdin; the write error is reported through 'close'.
    child.stdin.on('error', () => {})
    child.stdin.end(text, 'utf8')
  })
}
