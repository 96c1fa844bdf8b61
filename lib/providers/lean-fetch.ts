import { Response, interceptors, type Dispatcher } from 'undici'

/** Statuses whose response has no body (the Response constructor refuses one for them). */
const NULL_BODY = new Set([101, 103, 204, 205, 304])
/** fetch()'s redirect limit (Fetch standard, "HTTP-redirect fetch"). */
const MAX_REDIRECTS = 20

type FetchInput = string | URL | { readonly url: string }
type RequestBody = Dispatcher.DispatchOptions['body']

/**
 * The `fetch` the provider SDK calls, on undici's dispatcher API instead of its WHATWG fetch.
 * A warm turn makes three provider requests, and undici's fetch (the Fetch standard's
 * algorithm, its header lists and web streams for both bodies) cost about as much CPU again as
 * the request itself: a streamed chat completion 7.6-8.2 ms through fetch, 3.6-4.1 ms through
 * `request()` (issue 18, docs/benchmarks.md "CPU per AI turn"). The SDK still gets a real
 * Response (undici's), its body a web stream over the socket's; redirects are followed as
 * fetch follows them (the redirect interceptor); an abort destroys the request's own socket.
 */
export function leanFetch (dispatcher: Dispatcher): (input: FetchInput, init?: RequestInit) => Promise<Response> {
  const redirecting = dispatcher.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }))
  return async (input, init = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url)
    const method = (init.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod
    const res: Dispatcher.ResponseData = await redirecting.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method,
      headers: headerPairs(init.headers),
      body: (init.body ?? null) as RequestBody,
      signal: init.signal ?? undefined,
    })
    const status = res.statusCode
    if (NULL_BODY.has(status) || method === 'HEAD') {
      res.body.resume()
      return new Response(null, { status, headers: responseHeaders(res.headers) })
    }
    return new Response(res.body as unknown as ReadableStream, { status, headers: responseHeaders(res.headers) })
  }
}

/** A Headers object, an array of pairs or a record, as `[name, value, name, value, ...]`. */
function headerPairs (headers: RequestInit['headers']): string[] {
  const out: string[] = []
  if (headers === undefined) return out
  const entries: Iterable<readonly [string, string]> = Array.isArray(headers)
    ? headers as Array<[string, string]>
    : typeof (headers as Headers).entries === 'function' ? (headers as Headers).entries() : Object.entries(headers as Record<string, string>)
  for (const [name, value] of entries) out.push(name, value)
  return out
}

function responseHeaders (headers: Record<string, string | string[] | undefined>): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) out.push([name, v])
    else if (value !== undefined) out.push([name, value])
  }
  return out
}
