import { z } from 'zod'

/**
 * Prices for the usage estimate (`speech.pricing` in the config file), keyed `provider:model` or
 * just `provider` (the configured `name`, so a Groq endpoint named `groq` gets Groq's prices).
 * Unknown keys cost zero. The usage meter (usage.ts) owns this schema; speech/config.ts places it.
 */
export const pricingSchema = z.strictObject({
  currency: z.string().regex(/^[A-Z]{3}$/).default('USD'),
  stt: z.record(z.string(), z.strictObject({ perMinute: z.number().nonnegative() })).default({}),
  llm: z.record(z.string(), z.strictObject({
    inputPerMillionTokens: z.number().nonnegative(),
    outputPerMillionTokens: z.number().nonnegative(),
  })).default({}),
  tts: z.record(z.string(), z.strictObject({ perMillionCharacters: z.number().nonnegative() })).default({}),
})

export type PricingConfig = z.infer<typeof pricingSchema>
