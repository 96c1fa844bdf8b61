import { z } from 'zod'
import { vadSchema } from '../vad/config.ts'

/** Unicast media settings (`media.stream` once wired into the config). */
export const streamSchema = z.strictObject({
  /** Where our UDP sockets bind; 127.0.0.1 when FreeSWITCH runs on this host. */
  bindAddress: z.string().min(1).default('127.0.0.1'),
  /** The address FreeSWITCH sends to (`remote-ip`), when it is not the bound one (0.0.0.0, NAT). */
  advertisedAddress: z.string().min(1).optional(),
  /** A UDP port range for firewalls; absent means ephemeral ports. */
  ports: z.strictObject({ min: z.number().int().min(1024).max(65535), max: z.number().int().min(1024).max(65535) })
    .refine((r) => r.min <= r.max, 'ports.min must not exceed ports.max').optional(),
  /** Frames sent ahead of real time (0-2): more absorbs timer jitter, less stops faster on barge-in. */
  leadFrames: z.number().int().min(0).max(2).default(1),
  /**
   * The soft timer FreeSWITCH writes our frames toward the caller on (switch_time.c): 'timerfd',
   * Linux's default, writes a frame after idle ticks at once; 'matrix' (a build without timerfd,
   * or switch.conf `enable-monotonic-timing` and `enable-softtimer-timerfd` both false) makes it
   * wait for the next tick unless idle silence kept the timer warm (endpoint-options.ts
   * writeTimer). `enable-softtimer-timerfd` false alone gives neither: a 20 ms sleep before every
   * write (lib/simulator/ear.ts 'sleep'), for which `timerfd` is the better choice.
   */
  writeTimer: z.enum(['timerfd', 'matrix']).default('timerfd'),
  /**
   * 'shared' (default): every call's media through one UDP socket per process, read and written
   * in batches by a C helper built at install (udp-mux.ts); without the helper, or on IPv6, a
   * socket per call as 'per-call' does, with one warning at start-up.
   */
  sockets: z.enum(['shared', 'per-call']).default('shared'),
  /**
   * With the shared socket: ask for realtime priority (SCHED_FIFO 1) for the C helper's thread
   * that sends a reply's held frames when due, so busy cores do not make them late
   * (held-send.c). Granted to root, CAP_SYS_NICE or RLIMIT_RTPRIO >= 1; refused, the thread runs
   * at normal priority and start-up says so once.
   */
  realtimeSend: z.boolean().default(true),
  vad: vadSchema.default(vadSchema.parse({})),
})

export type StreamConfig = z.infer<typeof streamSchema>
