import { PhoneAgentError } from '../errors.ts'

/**
 * What a FreeSWITCH dial string would ring, read the way switch_ivr_originate() reads it, so
 * every external number in a transfer target passes the dial guard (premium, satellite, country
 * allowlist) at start-up and again before each transfer.
 *
 * The forms (switch_ivr_originate.c): a leading `<vars>` (enterprise, all threads) and `{vars}`
 * (all legs) block, then legs separated by `|` (tried one after another) and `,` (rung at once),
 * each with its own optional `[vars]`; `:_:` separates enterprise threads. A leg is
 * `ENDPOINT/DATA`: `sofia/gateway/GW/NUMBER`, `sofia/PROFILE/NUMBER@HOST`,
 * `sofia/PROFILE/sip:NUMBER@HOST;params`, `loopback/NUMBER/CONTEXT/DIALPLAN`, `user/EXT@DOMAIN`,
 * `group/NAME@DOMAIN`, `error/CAUSE`... Separators inside a variable block do not split legs.
 */

/** The numbers a dial string would ring (each leg's, in order; duplicates kept once). */
export function numbersInDialString (dialString: string): string[] {
  refuseChannelExpansion(dialString)
  const numbers: string[] = []
  for (const leg of dialStringLegs(dialString)) {
    for (const n of numbersInLeg(leg)) if (!numbers.includes(n)) numbers.push(n)
  }
  return numbers
}

/** The legs of a dial string, variable blocks removed. */
export function dialStringLegs (dialString: string): string[] {
  const legs: string[] = []
  let current = ''
  let depth = 0
  const closing: string[] = []
  const text = dialString.replaceAll(':_:', '|')
  for (const ch of text) {
    if (ch === '{' || ch === '[' || ch === '<') {
      closing.push(ch === '{' ? '}' : ch === '[' ? ']' : '>')
      depth++
      current += ch
      continue
    }
    if (depth > 0 && ch === closing.at(-1)) {
      closing.pop()
      depth--
      current += ch
      continue
    }
    if (depth === 0 && (ch === ',' || ch === '|')) {
      legs.push(current)
      current = ''
      continue
    }
    current += ch
  }
  if (depth !== 0) throw new PhoneAgentError('CONFIG_INVALID', 'dial string has an unclosed variable block')
  legs.push(current)
  return legs.map(stripVariableBlocks).filter((l) => l !== '')
}

/**
 * `${var}` is expanded from the channel when FreeSWITCH runs the bridge or originate: a caller
 * ID or SIP header the caller controls could become the number dialled. `$${var}` (a global
 * set by the operator in vars.xml) is allowed.
 */
function refuseChannelExpansion (dialString: string): void {
  if (/(^|[^$])\$\{/.test(dialString)) {
    throw new PhoneAgentError('CONFIG_INVALID', 'dial string uses a ${...} channel variable: only $${...} globals are allowed')
  }
}

function stripVariableBlocks (leg: string): string {
  let rest = leg.trim()
  for (;;) {
    const m = /^(\{[^}]*\}|\[[^\]]*\]|<[^>]*>)/.exec(rest)
    if (m === null) return rest
    rest = rest.slice(m[0].length).trim()
  }
}

/**
 * Every part of a leg after its endpoint name that is a phone number: `loopback/NUMBER/CONTEXT`
 * gives NUMBER, `sofia/gateway/GW/NUMBER` gives NUMBER (a gateway named with digits too: the
 * guard then judges it as well, which only errs on the safe side).
 */
function numbersInLeg (leg: string): string[] {
  const parts = leg.split('/').slice(1)
  const found: string[] = []
  for (const part of parts) {
    const user = (part.replace(/^(sips?|tel):/i, '').split(/[@;]/, 1)[0] ?? '')
    const digits = user.replace(/[\s().-]/g, '')
    if (/^\+?\d{6,}$/.test(digits)) found.push(digits)
  }
  return found
}

/**
 * The first number a dial string would ring. Kept for callers not yet moved to
 * numbersInDialString(), which checks every leg.
 */
export function numberInDialString (dialString: string): string | undefined {
  return numbersInDialString(dialString)[0]
}
