/**
 * Caller numbers shown to people who need to know a call happened, not who made it
 * (`privacy.maskCallerNumbers`): the country code and the last two digits stay, so the owner
 * can still tell two callers apart.
 */
export function maskNumber (number: string | null | undefined): string | null {
  if (number === null || number === undefined || number === '') return number ?? null
  const digits = number.replace(/\D/g, '')
  if (digits.length <= 4) return '•'.repeat(digits.length)
  const plus = number.startsWith('+')
  const head = plus ? `+${digits.slice(0, 2)}` : ''
  const tail = digits.slice(-2)
  return `${head}${'•'.repeat(Math.max(3, digits.length - (plus ? 4 : 2)))}${tail}`
}

export type NumberShown = (number: string | null | undefined) => string | null

export function numberShown (mask: boolean): NumberShown {
  return mask ? maskNumber : (n) => n ?? null
}
