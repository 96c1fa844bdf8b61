import type { SpeechClient } from '@google-cloud/speech'
import { LazyPackage } from '../lazy-package.ts'

/**
 * Loaded with the Google clients, and through the same `require`, so the credentials are an
 * instance of the very classes google-gax checks them against.
 */
const grpc = new LazyPackage<typeof import('@grpc/grpc-js')>('@grpc/grpc-js')

/** google-gax's ClientOptions, shared by every @google-cloud client, without importing gax. */
export type GoogleClientOptions = NonNullable<ConstructorParameters<typeof SpeechClient>[0]>

export interface GoogleClientSettings {
  /** Overrides Application Default Credentials with an API key. */
  readonly apiKey?: string | undefined
  readonly apiEndpoint?: string | undefined
  readonly port?: number | undefined
  /** Plain-text gRPC to a loopback fake; never for Google itself. */
  readonly insecure?: boolean | undefined
}

/**
 * Constructor options for the @google-cloud gRPC clients (google-gax 5). `sslCreds` replaces
 * the whole channel credential, so with `insecure` no token is fetched; `universeDomain` is set
 * so gax does not look for Application Default Credentials (and probe the GCE metadata server)
 * just to learn the domain. Retries are ours: every call passes `retry: null`.
 */
export function googleClientOptions (s: GoogleClientSettings): GoogleClientOptions {
  return {
    universeDomain: 'googleapis.com',
    ...(s.apiEndpoint === undefined ? {} : { apiEndpoint: s.apiEndpoint }),
    ...(s.port === undefined ? {} : { port: s.port }),
    ...(s.apiKey === undefined ? {} : { apiKey: s.apiKey }),
    ...(s.insecure === true ? { sslCreds: grpc.get().credentials.createInsecure() } : {}),
  }
}

/** A gax call that can be cancelled: what `innerApiCalls.*` return (the public wrappers drop `cancel`). */
export interface CancellableCall<T> extends Promise<T> {
  cancel?: () => void
}

/**
 * Await a gax unary call and cancel it when `signal` aborts, so the server sees the call end
 * (gRPC CANCELLED) instead of it running on to its deadline.
 */
export async function cancellable<T> (call: CancellableCall<T>, signal: AbortSignal): Promise<T> {
  const onAbort = (): void => { call.cancel?.() }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await call
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/**
 * Connect a gax client's gRPC channel now, making no call: the channel of the stub that
 * `initialize()` resolves with (gax creates it there, as the first call would) is asked for its
 * state with `tryToConnect` (grpc-js Channel.getConnectivityState(true): an idle channel starts
 * connecting; no watcher, no timer). Otherwise it connects on the first call, and the first turn
 * after start-up, or after the channel went idle, paid the TCP, TLS and HTTP/2 handshakes on the
 * reply's critical path. Never throws: a channel that cannot connect is the first call's to report.
 */
export function preconnectGoogle (client: { initialize: () => Promise<unknown> }): void {
  try {
    client.initialize().then((stub) => {
      try {
        (stub as { getChannel?: () => { getConnectivityState: (tryToConnect: boolean) => unknown } }).getChannel?.().getConnectivityState(true)
      } catch {
        // Closed meanwhile.
      }
    }, () => {})
  } catch {
    // A closed client: nothing to warm.
  }
}
