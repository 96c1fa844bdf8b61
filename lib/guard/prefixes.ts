/**
 * Numbers that are never dialled, whatever the config says: premium and special-rate ranges
 * of the four home countries, satellite networks and the international premium/shared
 * ranges that toll-fraud bots probe first. Checked on the E.164 form, so `0039 899...`,
 * `+39899...` and a national `899...` are one and the same number.
 *
 * The dialplan pack (`dialplan/.../phone_agent_outbound.xml`) blocks the same ranges with
 * regular expressions; `test/guard/number-table.spec.ts` runs one table of numbers through
 * both so the two layers cannot drift apart.
 */

export type BlockKind = 'premium' | 'special-rate' | 'satellite' | 'international-network'

export interface BlockRule {
  /** E.164 prefix. */
  readonly prefix: string
  readonly kind: BlockKind
  /** How a human would write the range: `AT 0900`, `IT 89x`, `Inmarsat +882`. */
  readonly label: string
}

export const BUILTIN_BLOCKS: readonly BlockRule[] = [
  { prefix: '+43900', kind: 'premium', label: 'AT 0900' },
  { prefix: '+43820', kind: 'special-rate', label: 'AT 0820' },
  { prefix: '+43939', kind: 'premium', label: 'AT 0939' },
  { prefix: '+4310', kind: 'special-rate', label: 'AT 010' },
  { prefix: '+43118', kind: 'special-rate', label: 'AT 0118' },
  { prefix: '+49900', kind: 'premium', label: 'DE 0900' },
  { prefix: '+49137', kind: 'special-rate', label: 'DE 0137' },
  // 018x covers 0180 (service numbers) and 0181-0189 (user groups, 01805 etc.).
  { prefix: '+4918', kind: 'special-rate', label: 'DE 018x' },
  { prefix: '+41900', kind: 'premium', label: 'CH 0900' },
  { prefix: '+41901', kind: 'premium', label: 'CH 0901' },
  { prefix: '+41906', kind: 'premium', label: 'CH 0906' },
  // Italian numbers keep their leading digit in E.164 (no trunk prefix), so 89x is +3989.
  { prefix: '+3989', kind: 'premium', label: 'IT 89x' },
  { prefix: '+39144', kind: 'premium', label: 'IT 144' },
  { prefix: '+39155', kind: 'special-rate', label: 'IT 155' },
  { prefix: '+39199', kind: 'special-rate', label: 'IT 199' },
  { prefix: '+870', kind: 'satellite', label: 'Inmarsat +870' },
  { prefix: '+881', kind: 'satellite', label: 'GMSS satellite +881' },
  { prefix: '+882', kind: 'satellite', label: 'Inmarsat/international networks +882' },
  { prefix: '+883', kind: 'international-network', label: 'UIFN/international networks +883' },
  { prefix: '+979', kind: 'premium', label: 'International premium rate +979' },
]

/** The first rule whose prefix starts `e164`, built-ins before `extra`. */
export function findBlock (e164: string, extra: readonly string[] = []): BlockRule | undefined {
  for (const rule of BUILTIN_BLOCKS) if (e164.startsWith(rule.prefix)) return rule
  for (const prefix of extra) {
    if (e164.startsWith(prefix)) return { prefix, kind: 'premium', label: `configured ${prefix}` }
  }
  return undefined
}

export function startsWithAny (e164: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => e164.startsWith(p))
}

/**
 * The digits as written, with `00` turned into `+` and separators dropped, but without
 * libphonenumber's clean-up. libphonenumber removes a stray trunk `0` after the country code
 * (`+43 0900...` becomes `+43900...`); a carrier may not, so both forms are checked.
 */
export function literalInternational (raw: string): string | undefined {
  let s = raw.trim().replace(/^(sips?|tel):/i, '').split(/[@;]/, 1)[0] ?? ''
  s = s.replace(/[ ().\-/]/g, '')
  if (s.startsWith('00')) s = '+' + s.slice(2)
  return /^\+\d+$/.test(s) ? s : undefined
}
