import type { InboundEsl } from './esl.ts'
import type { DoctorConfig } from './config.ts'

/** The soft timer media.stream.writeTimer says FreeSWITCH writes our frames on. */
export type WriteTimer = 'timerfd' | 'matrix'

/** One line of the report: ✔ or ✘, what was checked, and for a ✘ what to do. */
export interface CheckResult {
  readonly ok: boolean
  readonly name: string
  readonly detail: string
  readonly fix?: string
}

/** What the checks need from phone-agent's config, passed in (never read here). */
export interface DoctorInput {
  readonly doctor: DoctorConfig
  /** server.host / server.port: where the dialplan's socket action must point. */
  readonly server: { readonly host: string, readonly port: number }
  /** Routed DIDs in E.164. */
  readonly dids: readonly string[]
  readonly defaultCountry: string
  /** First caller prefix the guard allows, for a sample caller that passes the dialplan's filters. */
  readonly callerPrefix: string
  readonly soundsDir: string
  readonly freeswitchSoundsDir: string
  /**
   * media.stream.writeTimer when some call takes stream media (media.mode, or a route's or the
   * default route's mediaMode, is `stream`); absent when every call is in files mode, and the
   * write timer check is skipped.
   */
  readonly writeTimer?: WriteTimer
}

export interface DoctorContext {
  readonly esl: InboundEsl
  readonly input: DoctorInput
  /** The password we authenticated with. */
  readonly password: string
}

export const pass = (name: string, detail: string): CheckResult => ({ ok: true, name, detail })
export const fail = (name: string, detail: string, fix: string): CheckResult => ({ ok: false, name, detail, fix })
