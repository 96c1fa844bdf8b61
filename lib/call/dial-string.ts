/**
 * The phone number a dial string would ring, if it rings one: `sofia/gateway/trunk/+3902...`,
 * `sofia/external/0039...@carrier`, `{vars}loopback/0900...`. Short extensions (`user/1000@x`)
 * stay inside the PBX and return undefined. Used so every external number in a transfer target
 * passes the dial guard (premium, satellite, country allowlist), at start-up and again before
 * the bridge.
 */
export function numberInDialString (dialString: string): string | undefined {
  const withoutVars = dialString.replace(/^(\{[^}]*\}|\[[^\]]*\]|<[^>]*>)+/, '')
  const last = withoutVars.split('/').at(-1) ?? ''
  const dest = (last.split(/[@;]/, 1)[0] ?? '').replace(/^(sips?|tel):/i, '')
  const digits = dest.replace(/[\s().-]/g, '')
  return /^\+?\d{6,}$/.test(digits) ? digits : undefined
}
