import type { CountryCode } from 'libphonenumber-js/max'
import { phoneNumbers } from './phone-metadata.ts'

/**
 * Phone numbers as E.164 (`+390212345678`). Dialled numbers (DIDs) and caller IDs arrive in
 * every form a carrier can think of: `+39...`, `0039...`, national `02...`, `sip:` URIs with
 * visual separators. libphonenumber-js knows each country's trunk prefixes (the Italian leading
 * 0 is kept, the German one dropped), so we normalise with it rather than by hand.
 */

/** Strip what carriers wrap around a number: a `sip:`/`tel:` scheme, `@host`, `;params`, separators. */
function bareDigits (raw: string): string {
  let s = raw.trim()
  // A control character in a number is never a carrier quirk; refuse rather than clean it.
  if (/[\x00-\x1f\x7f]/.test(s)) return ''
  s = s.replace(/^(sips?|tel):/i, '')
  s = s.split(/[@;]/, 1)[0] ?? ''
  s = s.replace(/[ ().\-/]/g, '')
  return s
}

/**
 * Normalise a dialled or calling number to E.164, or return undefined when it is not a phone
 * number at all (empty, `anonymous`, letters, too short or too long). `defaultCountry` is used
 * for national forms (no `+` and no `00`).
 */
export function toE164 (raw: string | undefined, defaultCountry: string): string | undefined {
  if (raw === undefined) return undefined
  let s = bareDigits(raw)
  if (s.startsWith('00')) s = '+' + s.slice(2)
  if (!/^\+?\d{3,17}$/.test(s)) return undefined
  const parsed = phoneNumbers().parsePhoneNumberFromString(s, defaultCountry.toUpperCase() as CountryCode)
  if (parsed === undefined) return undefined
  const e164 = parsed.number
  // E.164 allows at most 15 digits after the plus.
  return /^\+\d{4,15}$/.test(e164) ? e164 : undefined
}

/** Whether `country` is a two-letter region libphonenumber-js knows (for config validation). */
export function isKnownCountry (country: string): boolean {
  return phoneNumbers().isSupportedCountry(country.toUpperCase() as CountryCode)
}
