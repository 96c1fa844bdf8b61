import type { Logger } from 'pino'
import type { Contact } from '../agent/contacts.ts'
import type { ToolCall } from '../agent/tools.ts'
import type { VerbContext } from './context.ts'

/** What a tool call asks the conversation to do once the reply has been spoken. */
export type TerminalAction =
  | { readonly kind: 'transfer', readonly target: string, readonly toolCallId: string }
  | { readonly kind: 'end', readonly reason: string, readonly toolCallId: string }

export interface ToolRunContext {
  readonly ctx: VerbContext
  readonly log: Logger
  readonly lookupContact: (number: string) => Contact | undefined
}

export type ToolOutcome =
  | { readonly result: string, readonly action?: undefined }
  | { readonly result: string, readonly action: TerminalAction }

/**
 * Act on a tool call that passed validateToolCall. Transfers and hang-ups only become actions:
 * they run after what the model said before them has been heard.
 */
export function runTool (call: ToolCall, id: string, run: ToolRunContext): ToolOutcome {
  switch (call.name) {
    case 'transfer_call':
      run.log.info({ tool: call.name, target: call.args.target }, 'model asked for a transfer')
      return { result: JSON.stringify({ ok: true, status: 'transferring' }), action: { kind: 'transfer', target: call.args.target, toolCallId: id } }
    case 'end_call':
      run.log.info({ tool: call.name, reason: call.args.reason }, 'model ended the call')
      return { result: JSON.stringify({ ok: true }), action: { kind: 'end', reason: call.args.reason, toolCallId: id } }
    case 'take_message': {
      const { ctx } = run
      ctx.recorder.message({ name: call.args.name, number: call.args.number, text: call.args.message, at: Date.now() })
      ctx.status.tookMessage()
      run.log.info({ tool: call.name, chars: call.args.message.length }, 'message taken')
      return { result: JSON.stringify({ ok: true, stored: true }) }
    }
    case 'lookup_contact': {
      const contact = run.lookupContact(call.args.number)
      run.log.info({ tool: call.name, found: contact !== undefined }, 'contact looked up')
      // Name and company only: notes are for the staff, and any caller can ask about any number.
      return {
        result: JSON.stringify(contact === undefined
          ? { found: false }
          : { found: true, name: contact.name ?? null, company: contact.company ?? null }),
      }
    }
  }
}
