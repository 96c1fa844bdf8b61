import { getExampleNumber, type CountryCode } from 'libphonenumber-js/max'
import examples from 'libphonenumber-js/mobile/examples'

/**
 * Plausible numbers for a country, for simulated calls and the files `init` writes: a US
 * config gets a US caller (which its default caller allowlist admits), an Italian one an
 * Italian caller. libphonenumber-js ships one example mobile number per country; the caller
 * differs from the DID in its last two digits.
 */
export function exampleNumber (country: string, role: 'did' | 'caller'): string {
  const example = getExampleNumber(country.toUpperCase() as CountryCode, examples)?.number ?? '+390212345678'
  if (role === 'did') return example
  const tail = example.endsWith('99') ? '98' : '99'
  return example.slice(0, -2) + tail
}
