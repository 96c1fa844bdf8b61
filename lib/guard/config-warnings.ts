import type { GuardConfig } from './config.ts'

interface Warning { readonly field: string, readonly message: string }

/**
 * Guard settings that are valid but likely to turn real callers away. Behind a SIP trunk every
 * call arrives from the carrier's proxies, so a per-source limit with no exempt range caps the
 * whole business at `perSourceIpPerMinute` calls a minute (docs/toll-fraud-and-floods.md).
 */
export function guardWarnings (config: { readonly guard: GuardConfig, readonly doctor: { readonly trunkRanges: readonly string[] } }): Warning[] {
  const { rates } = config.guard
  if (rates.perSourceIpExempt.length > 0 || config.doctor.trunkRanges.length > 0) return []
  return [{
    field: 'guard.rates.perSourceIpExempt',
    message: `no exempt addresses and no doctor.trunkRanges: calls from your carrier count against guard.rates.perSourceIpPerMinute (${rates.perSourceIpPerMinute}) like anyone else's; list the carrier's signalling ranges`,
  }]
}
