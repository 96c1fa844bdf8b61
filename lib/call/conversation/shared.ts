import type { Logger } from 'pino'
import type { AgentConfig } from '../../agent/config.ts'
import { callProfile, type CallProfile } from '../../agent/prompt.ts'
import { isCallEnded, isPhoneAgentError } from '../../errors.ts'
import { toE164 } from '../../numbers/e164.ts'
import type { VerbContext } from '../context.ts'
import { transfer, type TransferResult } from '../verbs/transfer.ts'
import type { ConverseOptions } from '../verbs/converse.ts'
import type { OperatorKeyLane } from './operator-key.ts'

/**
 * What the pipeline conversation and the realtime one both do the same way: who is calling
 * (the contact, the profile the prompt is built from) and a transfer the operator key may stop.
 */

/** The caller's profile for the prompt; the contact's name goes on the record. */
export function profileForCall (ctx: VerbContext, agent: AgentConfig, options: ConverseOptions): CallProfile {
  const services = ctx.agent
  const callerNumber = toE164(ctx.channel.data.callerNumber, services?.defaultCountry ?? 'IT')
  const contact = services?.lookupContact(callerNumber)
  if (contact?.name !== undefined) ctx.recorder.contact(contact.name)
  return callProfile({
    agent,
    contact,
    callerNumber,
    language: options.language ?? ctx.language,
    hours: services?.hours,
    now: services?.now() ?? new Date(),
    transferNames: services?.transferNames ?? Object.keys(ctx.transfers),
    offered: options.targets,
  })
}

/** A transfer the operator key may stop while it rings; a failure is a result, not a throw. */
export async function transferForAgent (ctx: VerbContext, agent: AgentConfig, operator: OperatorKeyLane, log: Logger, target: string): Promise<TransferResult> {
  try {
    const result = await operator.whileRinging(async (ringing) => await transfer(ctx, target, { signal: ringing }))
    if (result.connected && target === agent.transfers.afterHours && target !== agent.transfers.human) ctx.status.reachedVoicemail()
    return result
  } catch (err) {
    if (isCallEnded(err) || !ctx.channel.isUp) throw err
    log.warn({ target, code: isPhoneAgentError(err) ? err.code : 'unknown' }, 'transfer failed')
    return { connected: false, disposition: isPhoneAgentError(err) ? err.code : 'FAILED' }
  }
}
