import { z } from 'zod'

/** Admission and outbound protection settings (`guard:` in the config file). */
export const guardSchema = z.strictObject({})

export type GuardConfig = z.infer<typeof guardSchema>
