/** Public API for call scripts: `import { defineScript } from 'phone-agent'`. */
export { defineScript } from './call/script.ts'
export type { Call } from './call/session.ts'
export { PhoneAgentError, CallHangupError, isPhoneAgentError, isCallEnded, ERROR_CODES } from './errors.ts'
export type { ErrorCode } from './errors.ts'
export type { AskResult } from './call/verbs/ask.ts'
export type { ConverseOptions, ConverseResult } from './call/verbs/converse.ts'
