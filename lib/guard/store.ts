import type { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { Logger } from 'pino'
import type { GuardConfig } from './config.ts'
import { LazyPackage } from '../lazy-package.ts'

/**
 * Where admission counters live: per-caller and global rates (rate-limiter-flexible) and the
 * set of calls in progress. In memory for one instance; in Redis when several instances answer
 * calls for the same trunk, so a caller cannot dodge the limit by landing on another instance.
 */

export type RateVerdict = 'ok' | 'rate_source_ip' | 'rate_caller_minute' | 'rate_caller_hour' | 'rate_global'

export interface AdmissionStore {
  /**
   * Count one call attempt from `caller` (E.164, or `anonymous`), arriving from `source` (a key
   * from `sourceKey()`; undefined when unknown or exempt), and say which limit, if any, it breaks.
   */
  consume (caller: string, source?: string): Promise<RateVerdict>
  /** Count one hand-off to the dialplan fallback; false when `fallbackPerMinute` is used up. */
  consumeFallback (): Promise<boolean>
  /**
   * Take a concurrency slot for call `uuid`; false when all `max` slots are taken. With `reserve`,
   * `reserved` of the `max` slots are kept for contacts: a contact takes any free slot, anyone
   * else only while the slots left would still cover the reserve. Contacts' calls fill the
   * reserve first, so a contact on the line does not shrink what other callers get.
   */
  acquire (uuid: string, max: number, reserve?: SlotReserve): Promise<boolean>
  release (uuid: string): Promise<void>
  /** Calls currently holding a slot (as this store sees them). */
  active (): Promise<number>
  close (): Promise<void>
}

export interface SlotReserve {
  readonly reserved: number
  readonly contact: boolean
}

type Rates = GuardConfig['rates']

/** Whether a caller who is not a contact may take a slot (the rule ACQUIRE_LUA repeats). */
function generalFits (total: number, contacts: number, max: number, reserved: number): boolean {
  return total - contacts + Math.max(contacts, reserved) < max
}

interface Limiters {
  fallback: RateLimiterAbstract
  source: RateLimiterAbstract
  minute: RateLimiterAbstract
  hour: RateLimiterAbstract
  global: RateLimiterAbstract
}

/** true = consumed, false = over the limit; store failures still throw. */
async function tryConsume (limiter: RateLimiterAbstract, key: string): Promise<boolean> {
  try {
    await limiter.consume(key)
    return true
  } catch (err) {
    if (err instanceof RateLimiterRes) return false
    throw err
  }
}

// Checked in this order so a source or caller already over its own limit does not also use up
// the budgets that legitimate callers need during a flood: a flooding address is stopped before
// it spends the per-caller allowance of the numbers it spoofs (a known contact's among them) or
// the global budget.
async function consumeAll (l: Limiters, caller: string, source: string | undefined): Promise<RateVerdict> {
  if (source !== undefined && !await tryConsume(l.source, source)) return 'rate_source_ip'
  if (!await tryConsume(l.minute, caller)) return 'rate_caller_minute'
  if (!await tryConsume(l.hour, caller)) return 'rate_caller_hour'
  if (!await tryConsume(l.global, 'all')) return 'rate_global'
  return 'ok'
}

function memoryLimiters (rates: Rates, prefix: string): Limiters {
  return {
    fallback: new RateLimiterMemory({ keyPrefix: `${prefix}:f`, points: rates.fallbackPerMinute, duration: 60 }),
    source: new RateLimiterMemory({ keyPrefix: `${prefix}:s`, points: rates.perSourceIpPerMinute, duration: 60 }),
    minute: new RateLimiterMemory({ keyPrefix: `${prefix}:m`, points: rates.perCallerPerMinute, duration: 60 }),
    hour: new RateLimiterMemory({ keyPrefix: `${prefix}:h`, points: rates.perCallerPerHour, duration: 3600 }),
    global: new RateLimiterMemory({ keyPrefix: `${prefix}:g`, points: rates.globalPerSecond, duration: 1 }),
  }
}

/** Keys remembered so close() can drop them; beyond this many, close() leaves the rest to expire. */
const TRACKED_KEYS = 10_000

export function createMemoryStore (rates: Rates): AdmissionStore {
  const limiters = memoryLimiters(rates, 'guard')
  // Call uuid -> whether a contact holds the slot.
  const slots = new Map<string, boolean>()
  let contacts = 0
  // RateLimiterMemory keeps one (unref'd) expiry timer per key for up to an hour. Deleting the
  // keys on close() clears those timers, so a closed guard leaves nothing scheduled.
  const keys = new Set<string>(['all', 'fallback'])
  return {
    consume: async (caller, source) => {
      if (keys.size < TRACKED_KEYS) keys.add(caller)
      if (source !== undefined && keys.size < TRACKED_KEYS) keys.add(source)
      return consumeAll(limiters, caller, source)
    },
    consumeFallback: async () => await tryConsume(limiters.fallback, 'fallback'),
    acquire: async (uuid, max, reserve) => {
      if (slots.has(uuid)) return true
      const contact = reserve?.contact === true
      if (contact ? slots.size >= max : !generalFits(slots.size, contacts, max, reserve?.reserved ?? 0)) return false
      slots.set(uuid, contact)
      if (contact) contacts++
      return true
    },
    release: async (uuid) => {
      if (slots.get(uuid) === true) contacts--
      slots.delete(uuid)
    },
    active: async () => slots.size,
    close: async () => {
      slots.clear()
      contacts = 0
      for (const key of keys) {
        await Promise.all([limiters.fallback.delete(key), limiters.source.delete(key), limiters.minute.delete(key), limiters.hour.delete(key), limiters.global.delete(key)])
      }
      keys.clear()
    },
  }
}

/**
 * Take a slot atomically: drop slots whose instance died (score = expiry time), then add ours
 * only if there is room. Redis runs the script as one step, so two instances cannot both take
 * the last slot. KEYS[1] holds every call's slot, KEYS[2] the contacts' (also in KEYS[1]);
 * ARGV: now, max, uuid, expiry, reserved, 1 for a contact. Same rule as generalFits().
 */
const ACQUIRE_LUA = `
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[1])
if redis.call('zscore', KEYS[1], ARGV[3]) then return 1 end
local total = redis.call('zcard', KEYS[1])
local max = tonumber(ARGV[2])
if ARGV[6] == '1' then
  if total >= max then return 0 end
  redis.call('zadd', KEYS[2], ARGV[4], ARGV[3])
else
  local contacts = redis.call('zcard', KEYS[2])
  if total - contacts + math.max(contacts, tonumber(ARGV[5])) >= max then return 0 end
end
redis.call('zadd', KEYS[1], ARGV[4], ARGV[3])
return 1
`

/** Only a store shared over Redis loads its client (lazy-package.ts). */
const IOREDIS = new LazyPackage<typeof import('ioredis')>('ioredis')

export interface RedisStoreOptions {
  readonly rates: Rates
  readonly keyPrefix: string
  readonly slotTtlSeconds: number
  readonly logger: Logger
  /** An existing client (not closed by the store); otherwise one is made from `url`. */
  readonly client?: Redis
  readonly url?: string
  /** For tests: the clock used for slot expiry. */
  readonly now?: () => number
}

export function createRedisStore (opts: RedisStoreOptions): AdmissionStore {
  const owned = opts.client === undefined
  // No offline queue and one retry: while Redis is away, admission must answer at once from
  // the in-memory fallback instead of holding a ringing call until Redis comes back.
  const client = opts.client ?? new (IOREDIS.get().Redis)(opts.url ?? 'redis://127.0.0.1:6379', {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    lazyConnect: false,
  })
  const now = opts.now ?? Date.now
  const fallback = createMemoryStore(opts.rates)
  const insurance = memoryLimiters(opts.rates, 'guard-insurance')
  const redisLimiter = (suffix: string, points: number, duration: number, insuranceLimiter: RateLimiterAbstract): RateLimiterRedis =>
    new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `${opts.keyPrefix}:${suffix}`,
      points,
      duration,
      rejectIfRedisNotReady: true,
      // rate-limiter-flexible answers from this limiter when Redis fails.
      insuranceLimiter,
    })
  const limiters: Limiters = {
    fallback: redisLimiter('f', opts.rates.fallbackPerMinute, 60, insurance.fallback),
    source: redisLimiter('s', opts.rates.perSourceIpPerMinute, 60, insurance.source),
    minute: redisLimiter('m', opts.rates.perCallerPerMinute, 60, insurance.minute),
    hour: redisLimiter('h', opts.rates.perCallerPerHour, 3600, insurance.hour),
    global: redisLimiter('g', opts.rates.globalPerSecond, 1, insurance.global),
  }
  const slotKey = `${opts.keyPrefix}:slots`
  const contactSlotKey = `${opts.keyPrefix}:slots:contacts`
  const onError = (err: Error): void => { opts.logger.warn({ err }, 'guard redis error') }
  if (owned) client.on('error', onError)

  return {
    consume: async (caller, source) => consumeAll(limiters, caller, source),
    consumeFallback: async () => await tryConsume(limiters.fallback, 'fallback'),
    acquire: async (uuid, max, reserve) => {
      try {
        const t = now()
        const ok = await client.eval(ACQUIRE_LUA, 2, slotKey, contactSlotKey, String(t), String(max), uuid,
          String(t + opts.slotTtlSeconds * 1000), String(reserve?.reserved ?? 0), reserve?.contact === true ? '1' : '0')
        return ok === 1
      } catch (err) {
        opts.logger.warn({ err }, 'guard redis slot acquire failed, counting locally')
        return fallback.acquire(uuid, max, reserve)
      }
    },
    release: async (uuid) => {
      await fallback.release(uuid)
      try {
        await client.multi().zrem(slotKey, uuid).zrem(contactSlotKey, uuid).exec()
      } catch (err) {
        // The slot expires on its own after slotTtlSeconds.
        opts.logger.warn({ err }, 'guard redis slot release failed')
      }
    },
    active: async () => {
      try {
        return await client.zcount(slotKey, String(now()), '+inf')
      } catch {
        return fallback.active()
      }
    },
    close: async () => {
      await fallback.close()
      if (owned) {
        client.off('error', onError)
        client.disconnect()
      }
    },
  }
}
