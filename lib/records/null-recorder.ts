import type { CallRecorder } from './types.ts'

/** A recorder that records nothing: for embedders and tests that run without a call store. */
export function nullRecorder (uuid: string): CallRecorder {
  return {
    uuid,
    rejected: () => {},
    answered: () => {},
    contact: () => {},
    turn: () => {},
    latency: () => {},
    message: () => {},
    error: () => {},
    usage: () => {},
    end: async () => {},
  }
}
