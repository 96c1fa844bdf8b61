import type { CallRecorder } from './types.ts'

/**
 * Shared by every call: a function made per call costs its closure and, under tsx (esbuild's
 * keepNames gives each a `name` of its own), a 256-byte property dictionary; nine of them were
 * 2.6 KB per call.
 */
const nothing = (): void => {}
const ended = async (): Promise<void> => {}

/** A recorder that records nothing: for embedders and tests that run without a call store. */
export function nullRecorder (uuid: string): CallRecorder {
  return {
    uuid,
    rejected: nothing,
    answered: nothing,
    contact: nothing,
    turn: nothing,
    latency: nothing,
    message: nothing,
    error: nothing,
    usage: nothing,
    end: ended,
  }
}
