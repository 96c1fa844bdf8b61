import { PhoneAgentError } from '../errors.ts'
import { checkAcl, checkEventSocket, checkFallback, checkGateways, checkModules, checkNat } from './checks.ts'
import { checkDids, checkOutbound } from './checks-dialplan.ts'
import { checkWriteTimer } from './checks-timer.ts'
import { connectInbound, type InboundEsl } from './esl.ts'
import { checkSounds } from './sounds.ts'
import { fail, type CheckResult, type DoctorContext, type DoctorInput } from './types.ts'

export type { CheckResult, DoctorInput } from './types.ts'

/** The checks, in the order the report prints them. */
const CHECKS = [checkEventSocket, checkModules, checkWriteTimer, checkDids, checkAcl, checkGateways, checkOutbound, checkNat, checkSounds, checkFallback] as const

export interface DoctorOptions {
  readonly env: Readonly<Record<string, string | undefined>>
  /** For tests: another way to reach FreeSWITCH. */
  readonly connect?: typeof connectInbound
}

/** Connect, run every check (a failing one does not stop the others), close. */
export async function runDoctor (input: DoctorInput, options: DoctorOptions): Promise<CheckResult[]> {
  const es = input.doctor.eventSocket
  const password = options.env[es.passwordEnv]
  if (password === undefined || password === '') {
    return [fail('event socket', `$${es.passwordEnv} is not set`, `export ${es.passwordEnv} with the password of event_socket.conf.xml (phone_agent_esl_password)`)]
  }
  let esl: InboundEsl
  try {
    esl = await (options.connect ?? connectInbound)({ host: es.host, port: es.port, password, timeoutMs: es.timeoutMs })
  } catch (err) {
    if (!(err instanceof PhoneAgentError)) throw err
    const fix = err.code === 'ESL_COMMAND_FAILED'
      ? `use the password of event_socket.conf.xml in $${es.passwordEnv}; after changing it there, restart FreeSWITCH (mod_event_socket reads it only at start)`
      : `start FreeSWITCH with mod_event_socket listening on ${es.host}:${es.port} (event_socket.conf.xml), or fix doctor.eventSocket`
    return [fail('event socket', err.message, fix)]
  }
  const ctx: DoctorContext = { esl, input, password }
  const results: CheckResult[] = []
  try {
    for (const check of CHECKS) {
      try {
        results.push(...await check(ctx))
      } catch (err) {
        if (!(err instanceof PhoneAgentError)) throw err
        results.push(fail(check.name.replace(/^check/, '').toLowerCase(), err.message, 'run the check again; if it persists, look at FreeSWITCH\'s log'))
        if (err.code === 'ESL_SOCKET_CLOSED') break
      }
    }
  } finally {
    esl.close()
  }
  return results
}

/** One line per check: ✔ name: detail, or ✘ name: detail, then the fix. */
export function formatReport (results: readonly CheckResult[]): string {
  const lines = results.map((r) => r.ok ? `✔ ${r.name}: ${r.detail}` : `✘ ${r.name}: ${r.detail} — fix: ${r.fix ?? ''}`)
  const failed = results.filter((r) => !r.ok).length
  lines.push(failed === 0 ? `all ${results.length} checks passed` : `${failed} of ${results.length} checks failed`)
  return lines.join('\n') + '\n'
}
