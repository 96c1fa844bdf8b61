import { phoneNumbers } from '../numbers/phone-metadata.ts'
import { BUILTIN_BLOCKS } from '../guard/prefixes.ts'
import { parseContext, route, UnsupportedExpression, type Routed } from './dialplan.ts'
import { fail, pass, type CheckResult, type DoctorContext } from './types.ts'

/**
 * Dialplan checks without placing a call: the context as FreeSWITCH has loaded it
 * (`xml_locate dialplan context name CTX`, xml_locate_function in mod_commands.c, which prints
 * the element with switch_xml_toxml), run through the model in dialplan.ts.
 */

async function loadContext (c: DoctorContext, name: string): Promise<ReturnType<typeof parseContext>> {
  const out = await c.esl.api(`xml_locate dialplan context name ${name}`)
  // "can't find anything" when there is no such context (switch_xml_locate failed).
  if (!out.trimStart().startsWith('<context')) return undefined
  return parseContext(out)
}

/** The forms a trunk may send a DID in: +CC..., CC..., 00CC..., national. */
export function didForms (e164: string): string[] {
  const digits = e164.slice(1)
  const national = phoneNumbers().parsePhoneNumberFromString(e164)?.formatNational().replace(/\D/g, '')
  return [...new Set([e164, digits, `00${digits}`, ...(national ? [national] : [])])]
}

function tryRoute (extensions: Parameters<typeof route>[0], channel: Record<string, string>): Routed | undefined | Error {
  try {
    return route(extensions, channel)
  } catch (err) {
    if (err instanceof UnsupportedExpression) return err
    throw err
  }
}

/** Every routed DID reaches a `socket` action aimed at our outbound server. */
export async function checkDids (c: DoctorContext): Promise<CheckResult[]> {
  const { publicContext } = c.input.doctor
  const target = `${c.input.server.host}:${c.input.server.port}`
  const name = (did: string): string => `DID ${did}`
  if (c.input.dids.length === 0) return [fail('DIDs', 'no routes in phone-agent.yaml', 'add routes: with your DIDs')]
  const extensions = await loadContext(c, publicContext)
  if (extensions === undefined) {
    return [fail(`context ${publicContext}`, 'not in the loaded dialplan', 'install dialplan/public.xml and public/00_phone_agent.xml from the pack, then fs_cli -x reloadxml')]
  }
  const caller = `${c.input.callerPrefix}3331234567`
  const out: CheckResult[] = []
  for (const did of c.input.dids) {
    const reached: string[] = []
    let firstEnd: string | undefined
    for (const form of didForms(did)) {
      const r = tryRoute(extensions, { destination_number: form, caller_id_number: caller, caller_id_name: 'doctor' })
      if (r instanceof Error) return [fail(name(did), `the ${publicContext} context uses an expression this check cannot evaluate: ${r.message}`, 'check this DID by hand with a test call')]
      if (r === undefined) { firstEnd ??= 'no extension matches'; continue }
      if (r.actions.some((a) => a.app === 'socket' && a.data.split(/\s+/)[0] === target)) reached.push(form)
      else firstEnd ??= `${form}: extension ${r.extension}`
    }
    out.push(reached.length > 0
      ? pass(name(did), `reaches socket ${target} as ${reached.join(', ')}`)
      : fail(name(did), `no form of it reaches socket ${target} (${firstEnd ?? 'no extension matches'})`, `put the form your trunk sends (see the phone_agent_reject log line: dest=...) into phone_agent_dids, and ${target} into phone_agent_socket_primary, then fs_cli -x reloadxml`))
  }
  return out
}

/** Premium and satellite samples: the outbound context must end them without a bridge. */
export function outboundSamples (): string[] {
  const samples: string[] = []
  for (const b of BUILTIN_BLOCKS) {
    const n = `${b.prefix}${'1234567890'.slice(0, Math.max(0, 12 - b.prefix.length + 1))}`
    samples.push(n, `00${n.slice(1)}`)
  }
  return samples
}

export async function checkOutbound (c: DoctorContext): Promise<CheckResult[]> {
  const { outboundContext } = c.input.doctor
  const name = `context ${outboundContext}`
  const extensions = await loadContext(c, outboundContext)
  if (extensions === undefined) {
    return [fail(name, 'not in the loaded dialplan', 'install dialplan/phone_agent_outbound.xml from the pack, then fs_cli -x reloadxml')]
  }
  const leaks: string[] = []
  const samples = outboundSamples()
  for (const number of samples) {
    const r = tryRoute(extensions, { destination_number: number, caller_id_number: '+390212345678' })
    if (r instanceof Error) return [fail(name, `uses an expression this check cannot evaluate: ${r.message}`, 'check premium numbers by hand')]
    if (r !== undefined && r.actions.some((a) => a.app === 'bridge' || a.app === 'transfer' || a.app === 'socket')) leaks.push(`${number} (${r.extension})`)
  }
  return [leaks.length === 0
    ? pass(name, `refuses ${samples.length} premium and satellite samples (nothing dialled)`)
    : fail(name, `would dial ${leaks.slice(0, 3).join(', ')}${leaks.length > 3 ? ` and ${leaks.length - 3} more` : ''}`, 'put the phone_agent_block_* extensions of the pack before any bridge, then fs_cli -x reloadxml')]
}
