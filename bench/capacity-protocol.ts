/**
 * Messages between bench/capacity.ts (the driver) and bench/capacity-server.ts (the server
 * under test, a child process) over the fork IPC channel. Every request carries an id that
 * its reply echoes.
 */

export type ServerRequest =
  | { readonly id: number, readonly type: 'window-start' }
  | { readonly id: number, readonly type: 'window-end' }
  | { readonly id: number, readonly type: 'memory', readonly gc: boolean }
  | { readonly id: number, readonly type: 'stop' }

export interface LoopDelay {
  /** Milliseconds beyond the sampling timer's own period (perf_hooks.monitorEventLoopDelay). */
  readonly p50: number
  readonly p99: number
  readonly max: number
}

export interface PacerWindow {
  /** |interval between wake-ups of the shared frame scheduler - 20 ms|, ms. */
  readonly wakeDeviationP50: number
  readonly wakeDeviationP99: number
  /** From a wake-up to the last endpoint served in it (every socket.send of that tick), ms. */
  readonly tickWorkP99: number
  readonly lateWakeups: number
  readonly skippedFrames: number
}

export interface WindowStats {
  readonly loop: LoopDelay
  readonly pacer: PacerWindow
  /** CPU time over wall time in the window: 1 = one core busy all the time. */
  readonly cpu: number
  readonly activeCalls: number
}

export interface MemoryStats {
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
  readonly arrayBuffers: number
  readonly activeCalls: number
}

export type ServerReply =
  | { readonly type: 'ready', readonly port: number }
  | { readonly type: 'fatal', readonly message: string }
  | { readonly id: number, readonly type: 'ok' }
  | { readonly id: number, readonly type: 'window', readonly stats: WindowStats }
  | { readonly id: number, readonly type: 'memory', readonly stats: MemoryStats }
  | { readonly id: number, readonly type: 'stopped' }
