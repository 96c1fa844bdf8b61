/**
 * Secrets removed from text by shape, wherever they sit: every log line passes through here
 * after pino has serialised it (messages, nested fields, arrays, `err.message`, `err.stack`),
 * so a key that reached an error message or a URL logged under an unexpected field name is
 * caught too. Field-name redaction (logger.ts) stays as the first line of defence.
 *
 * Works on the JSON text: what a rule replaces never contains `"` or `\` (a quote before a value
 * is kept with the keyword), so a replacement never breaks the line's quoting or an escape.
 */

export const SCRUBBED = '[redacted]'

/** Names whose value is a secret when they appear as `name: value` / `name=value` in text. */
const NAMES = String.raw`(?:proxy-)?authorization|x-api-key|x-goog-api-key|api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|` +
  String.raw`id[_-]?token|auth[_-]?token|client[_-]?secret|private[_-]?key|token|secret|password|passwd|pwd`

/**
 * Each rule: a cheap gate (most lines fail every gate and cost a few substring tests), the
 * pattern, and what replaces it (`$1` keeps the keyword). Keyword rules are case-insensitive.
 * A value in quotes is taken up to the closing quote; an unquoted one only where no quote
 * stands between name and separator, which in a JSON line means inside a string (a JSON key
 * is always quoted), so `"password":null` never becomes invalid JSON.
 */
const RULES: ReadonlyArray<readonly [gate: RegExp, pattern: RegExp, replacement: string]> = [
  // scheme://user:password@host and scheme://token@host: the whole userinfo. Anchored on
  // `://` alone (matching the scheme too made this the slowest rule by far).
  [/:\/\/[^\s/?#@"\\]+@/, /(:\/\/)[^\s/?#@"\\]+@/g, `$1${SCRUBBED}@`],
  // "authorization":"Bearer x" (nested deeper than field redaction reaches), \"password\": \"x\".
  [/authoriz|api.?key|token|secret|passw|pwd|private.?key/i, new RegExp(String.raw`(\b(?:${NAMES})\\?["']?\s*[:=]\s*\\?["'])[^"\\]+`, 'gi'), `$1${SCRUBBED}`],
  // Authorization: Bearer x, password=x, ?api_key=x (in messages, URLs, stack traces).
  [/authoriz|api.?key|token|secret|passw|pwd|private.?key/i, new RegExp(String.raw`(\b(?:${NAMES})\s*[:=]\s*)(?:(?:bearer|basic|digest|token)\s+)?[^\s"\\,;&#]+`, 'gi'), `$1${SCRUBBED}`],
  [/[?&](?:key|sig)/i, /([?&](?:key|sig|signature)=)[^\s&#"\\]+/gi, `$1${SCRUBBED}`],
  // A bearer token on its own: 16+ token characters, or 8+ with a digit ("Bearer authentication" is text).
  [/bearer/i, /(\bbearer\s+)(?:[A-Za-z0-9._~+/-]{16,}|(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{8,})=*/gi, `$1${SCRUBBED}`],
  // Vendor key shapes, recognisable without a keyword (case-sensitive: the prefixes are exact).
  [/sk-|gsk_|AIza|AKIA|ASIA|gh[pousr]_|xox|_live_|_test_|eyJ/, new RegExp([
    String.raw`\bsk-[A-Za-z0-9][A-Za-z0-9_-]{15,}`, // OpenAI sk-…, sk-proj-…, Anthropic sk-ant-…
    String.raw`\bgsk_[A-Za-z0-9]{20,}`, // Groq
    String.raw`\bAIza[0-9A-Za-z_-]{30,}`, // Google API keys
    String.raw`\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`, // AWS access key ids
    String.raw`\bgh[pousr]_[A-Za-z0-9]{30,}`, // GitHub tokens
    String.raw`\bxox[abprs]-[A-Za-z0-9-]{10,}`, // Slack tokens
    String.raw`\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}`, // Stripe keys
    String.raw`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`, // JWTs (header.payload.signature)
  ].join('|'), 'g'), SCRUBBED],
]

/** Shorter configured values are not scrubbed literally: they would mangle ordinary text. */
const MIN_LITERAL = 6

export class SecretScrubber {
  readonly #literals = new Set<string>()
  #literalPattern: RegExp | undefined

  /**
   * Values to remove verbatim wherever they appear (API keys and passwords read from the
   * environment at start-up). Each is also removed in its JSON-escaped form, as it appears in
   * a serialised line. Values shorter than 6 characters are ignored.
   */
  addSecrets (values: Iterable<string | undefined>): void {
    let added = false
    for (const value of values) {
      // A number-like value could match a JSON number outside any string, where a replacement
      // would break the line; such a value is left to the field-name redaction.
      if (typeof value !== 'string' || value.length < MIN_LITERAL || /^[-+0-9.eE]+$/.test(value)) continue
      for (const form of [value, JSON.stringify(value).slice(1, -1)]) {
        if (!this.#literals.has(form)) { this.#literals.add(form); added = true }
      }
    }
    if (!added) return
    // Longest first, so a secret that contains another is removed whole.
    const sorted = [...this.#literals].sort((a, b) => b.length - a.length)
    this.#literalPattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g')
  }

  /** The text with every secret it recognises replaced by `[redacted]`. */
  scrub (text: string): string {
    let out = text
    if (this.#literalPattern !== undefined) out = out.replace(this.#literalPattern, SCRUBBED)
    for (const [gate, pattern, replacement] of RULES) {
      if (gate.test(out)) out = out.replace(pattern, replacement)
    }
    return out
  }
}

function escapeRegExp (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * The process's scrubber: every logger createLogger() builds uses it, so secrets registered at
 * start-up (registerSecrets) are removed from loggers made before and after.
 */
export const processScrubber = new SecretScrubber()

export function registerSecrets (values: Iterable<string | undefined>): void {
  processScrubber.addSecrets(values)
}

/**
 * The secret values a config points at: every string field named `…Env` (apiKeyEnv,
 * passwordEnv, urlEnv, secretEnv, tokenEnv, at any depth, in lists too) names an environment
 * variable holding a secret. For a URL (a database URL) its password is returned on its own too.
 */
export function secretsFromConfig (config: unknown, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = []
  const walk = (node: unknown, depth: number): void => {
    if (depth > 12 || node === null || typeof node !== 'object') return
    for (const [key, value] of Object.entries(node)) {
      if (key.endsWith('Env') && typeof value === 'string') {
        const secret = env[value]
        if (secret !== undefined && secret !== '') out.push(secret, ...urlPassword(secret))
      } else {
        walk(value, depth + 1)
      }
    }
  }
  walk(config, 0)
  // Variables a provider reads when the config names none (a default `apiKeyEnv`, the vendors'
  // own SDK conventions): a value there is a secret whether or not a field spelled its name.
  for (const name of CONVENTIONAL_SECRET_ENVS) {
    const secret = env[name]
    if (secret !== undefined && secret !== '') out.push(secret)
  }
  return out
}

const CONVENTIONAL_SECRET_ENVS = ['OPENAI_API_KEY', 'GEMINI_API_KEY', 'GOOGLE_API_KEY', 'ANTHROPIC_API_KEY', 'GROQ_API_KEY']

function urlPassword (value: string): string[] {
  if (!value.includes('://')) return []
  try {
    const password = new URL(value).password
    return password === '' ? [] : [password, decodeURIComponent(password)]
  } catch {
    return []
  }
}
