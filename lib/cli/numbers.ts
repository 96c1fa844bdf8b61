import type { CountryCode } from 'libphonenumber-js/max'
import { exampleMobileNumbers, phoneNumbers } from '../numbers/phone-metadata.ts'

/**
 * Plausible numbers for a country, for simulated calls and the files `init` writes: a US
 * config gets a US caller (which its default caller allowlist admits), an Italian one an
 * Italian caller. libphonenumber-js ships one example mobile number per country; the caller
 * differs from the DID in its last two digits.
 */
export function exampleNumber (country: string, role: 'did' | 'caller'): string {
  const example = phoneNumbers().getExampleNumber(country.toUpperCase() as CountryCode, exampleMobileNumbers())?.number ?? '+390212345678'
  if (role === 'did') return example
  const tail = example.endsWith('99') ? '98' : '99'
  return example.slice(0, -2) + tail
}
