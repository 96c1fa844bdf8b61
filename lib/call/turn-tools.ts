import type { Logger } from 'pino'
import type { Contact } from '../agent/contacts.ts'
import { validateToolCall, type ToolCall, type ToolContext } from '../agent/tools.ts'
import type { ConversationHistory } from '../agent/history.ts'
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

/** A tool's name as the model wrote it, cut for the logs. */
const MODEL_TEXT_IN_LOGS = 64

export interface ToolRoundContext extends ToolRunContext {
  readonly assistant: ReturnType<ConversationHistory['beginAssistant']>
  readonly toolContext: ToolContext
}

/**
 * One round's tool calls, in order: each recorded with its result in the history (a refusal is a
 * result the model reads). Returns the transfer or hang-up to run after the reply; once one is
 * pending, later calls are answered "not run".
 */
export function runToolCalls (calls: ReadonlyArray<{ id: string, name: string, arguments: string }>, pending: TerminalAction | undefined, run: ToolRoundContext): TerminalAction | undefined {
  for (const call of calls) {
    run.assistant.toolCall(call)
    if (pending !== undefined) {
      run.assistant.toolResult(call.id, JSON.stringify({ error: 'not run: the call is already being ended or transferred' }))
      continue
    }
    const checked = validateToolCall(call.name, call.arguments, run.toolContext)
    if (!checked.ok) {
      run.log.warn({ tool: call.name.slice(0, MODEL_TEXT_IN_LOGS), code: checked.code }, 'tool call refused')
      run.assistant.toolResult(call.id, JSON.stringify({ error: checked.error }))
      continue
    }
    const outcome = runTool(checked.call, call.id, run)
    run.assistant.toolResult(call.id, outcome.result)
    if (outcome.action !== undefined) pending = outcome.action
  }
  return pending
}
