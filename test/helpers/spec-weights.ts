/**
 * Wall seconds of the specs that take 5 s or more, in folders with several runners, measured on
 * the 2-core development machine in a quiet `npm test` (2026-12-02, the runners' TAP comments:
 * `# name.spec.ts: CPU-s, s`). A folder's specs are dealt to its runners by these, so the runners
 * take about as long as each other (file size, the fallback, puts a 46 s spec beside a 2 s one of
 * the same size). A spec not listed counts DEFAULT_SPEC_SECONDS; a wrong figure only unbalances.
 */
export const SPEC_SECONDS: Readonly<Record<string, number>> = {
  'call/admission.spec.ts': 18,
  'call/bad-input.spec.ts': 18,
  'call/call-recording.spec.ts': 9,
  'call/rtp-gaps.spec.ts': 6,
  'call/scripts-api.spec.ts': 14,
  'call/stream-mode.spec.ts': 9,
  'call/take-message.spec.ts': 22,
  'console/browser.spec.ts': 17,
  'console/end-to-end.spec.ts': 15,
  'conversation/ask.spec.ts': 13,
  'conversation/fallbacks.spec.ts': 27,
  'conversation/hangup.spec.ts': 13,
  'conversation/preemptive.spec.ts': 13,
  'conversation/receptionist.spec.ts': 6,
  'conversation/silent-reply.spec.ts': 10,
  'conversation/stream.spec.ts': 23,
  'conversation/tool-misuse.spec.ts': 6,
  'conversation/turn-taking.spec.ts': 46,
  'core/bin.spec.ts': 22,
  'core/call-command.spec.ts': 18,
  'core/cli.spec.ts': 8,
  'core/demo.spec.ts': 31,
  'core/init.spec.ts': 49,
  'core/readme-example.spec.ts': 22,
  'core/validation.spec.ts': 15,
  'media-stream/echo.spec.ts': 13,
  'media-stream/vad-corpus.spec.ts': 14,
  'media-stream/vad-identical.spec.ts': 12,
  'media-stream/vad-silero.spec.ts': 24,
  'providers/anthropic-call.spec.ts': 9,
  'providers/anthropic.spec.ts': 6,
  'providers/call-breaker.spec.ts': 6,
  'providers/google.spec.ts': 9,
  'realtime/adapters.spec.ts': 6,
  'realtime/conversation.spec.ts': 33,
  'realtime/failures.spec.ts': 25,
  'records/call-recording-crash.spec.ts': 16,
  'records/message-crash.spec.ts': 12,
  'transfer/handoff.spec.ts': 15,
  'transfer/stream-transfer.spec.ts': 32,
}

export const DEFAULT_SPEC_SECONDS = 2
