/**
 * Ctrl-C for a bench that owns child processes: the first aborts the returned signal (the bench
 * hangs up its calls, stops its server and removes its temporary directory), a second quits at once.
 */
export function abortOnInterrupt (bench: string): AbortSignal {
  const controller = new AbortController()
  process.once('SIGINT', () => {
    console.error(`${bench}: interrupted, cleaning up (Ctrl-C again to quit at once)`)
    controller.abort()
    process.once('SIGINT', () => { process.exit(130) })
  })
  return controller.signal
}
