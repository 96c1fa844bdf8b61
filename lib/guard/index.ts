export { guardSchema, type GuardConfig, type GuardConfigInput } from './config.ts'
export {
  createAdmissionGuard, privacyFromChannel, ADMISSION_REASONS,
  type AdmissionGuard, type AdmissionReason, type AdmissionRequest, type AdmissionVerdict, type FallbackTarget, type RejectionRecord,
} from './admission.ts'
export { createDialGuard, type DialGuard, type DialVerdict, type DialBlockReason } from './dial.ts'
export { createMemoryStore, createRedisStore, type AdmissionStore } from './store.ts'
export { BUILTIN_BLOCKS, type BlockRule } from './prefixes.ts'
export { sourceKey, sourceMatcher } from './source-ip.ts'
export { classifyCallerId, ANONYMOUS_WORDS, type PrivacyInfo } from './caller-id.ts'
