/**
 * Quick folders whose specs share a process with other folders' specs: starting a test process
 * that loads the app costs 3-5 CPU-seconds (tap, the TypeScript loader, the module graph), about
 * what each of these folders' specs take to run, so three processes run twelve folders.
 * A runner here is `test/NAME` and runs every spec of the folders it lists; those folders have
 * no runner of their own (test/core/specs-bundles.spec.ts checks both).
 */
export const SHARED_RUNNERS: Readonly<Record<string, readonly string[]>> = {
  'quick-1.test.ts': ['agent', 'bench', 'dialplan', 'doctor', 'freeswitch'],
  'quick-2.test.ts': ['media', 'ops', 'simulator', 'speech'],
  'quick-3.test.ts': ['faults', 'guard', 'notify'],
}
