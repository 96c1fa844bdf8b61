import { z } from 'zod'

/**
 * How long call content is kept (`retention:`). Absent days: kept forever. The service checks
 * on a timer; each call past `days` loses its audio files and transcripts and keeps a row that
 * says when (`purged_at`); past `recordsDays` the row goes too.
 */
export const retentionSchema = z.strictObject({
  days: z.number().int().min(1).max(36_500).optional(),
  recordsDays: z.number().int().min(1).max(36_500).optional(),
  intervalMinutes: z.number().int().min(1).max(1440).default(60),
}).refine((r) => r.recordsDays === undefined || r.days === undefined || r.recordsDays >= r.days, {
  message: 'must be at least retention.days (content goes before the record)', path: ['recordsDays'],
})

export type RetentionConfig = z.infer<typeof retentionSchema>
