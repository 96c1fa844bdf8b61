import t from 'tap'
import { buildConfig } from '../../lib/config/load.ts'
import { ConfigProblems } from '../../lib/config/problems.ts'
import { isPhoneAgentError } from '../../lib/errors.ts'
import { resolveRealtime } from '../../lib/realtime/config.ts'
import { createRealtimeVendor } from '../../lib/realtime/vendor.ts'

const DID = '+390212345678'

function problems (raw: Record<string, unknown>): Array<{ field: string, message: string }> {
  try {
    buildConfig({ transfers: { operator: { type: 'extension', extension: '1000' } }, ...raw }, process.cwd())
    return []
  } catch (err) {
    if (err instanceof ConfigProblems) return [...err.problems]
    throw err
  }
}

t.test('files media mode refuses realtime at load, naming the field', async (t) => {
  const found = problems({ media: { mode: 'files' }, agent: { realtime: { vendor: 'openai' } }, routes: { [DID]: { script: 'receptionist', options: { mode: 'realtime' } } } })
  t.equal(found.length, 1)
  t.equal(found[0]?.field, `routes.${DID}.options.mode`)
  t.match(found[0]?.message, /stream media/)
  const routeFiles = problems({ agent: { mode: 'realtime', realtime: { vendor: 'gemini' } }, routes: { [DID]: { script: 'receptionist', mediaMode: 'files' } } })
  t.equal(routeFiles[0]?.field, 'agent.mode', 'the agent-wide mode on a files route')
  t.same(problems({ media: { mode: 'stream' }, agent: { realtime: { vendor: 'openai' } }, routes: { [DID]: { script: 'receptionist', options: { mode: 'realtime' } } } }), [], 'stream media is fine')
  t.same(problems({ media: { mode: 'files' }, agent: { mode: 'realtime', realtime: { vendor: 'openai' } }, routes: { [DID]: { script: 'take-message' } } }), [], 'take-message does not converse: the agent mode does not concern it')
})

t.test('a wrong mode or realtime setting is named by its field', async (t) => {
  t.same(problems({ routes: { [DID]: { script: 'receptionist', options: { mode: 'fast' } } } }).map((p) => p.field), [`routes.${DID}.options.mode`])
  t.same(problems({ agent: { realtime: { vendor: 'openai' } }, routes: { [DID]: { script: 'receptionist', options: { mode: 'realtime', realtime: { vendor: 'azure', voice: 'a b' } } } } }).map((p) => p.field).sort(),
    [`routes.${DID}.options.realtime.vendor`, `routes.${DID}.options.realtime.voice`])
  const noVendor = problems({ routes: { [DID]: { script: 'receptionist', options: { mode: 'realtime' } } } })
  t.match(noVendor[0], { field: `routes.${DID}.options.mode`, message: /needs a vendor/ })
  const badKey = problems({ agent: { realtime: { vendor: 'openai', apiKeyEnv: 'lower-case' } } })
  t.equal(badKey[0]?.field, 'agent.realtime.apiKeyEnv', 'the schema itself names agent.realtime fields')
  t.same(problems({ agent: { mode: 'realtime', realtime: { vendor: 'gemini' } }, routes: { [DID]: { script: 'receptionist' } } }), [], 'a valid realtime agent')
})

t.test('a route\'s overrides sit on the agent\'s settings; a switched vendor inherits nothing vendor-specific', async (t) => {
  const base = { vendor: 'openai' as const, model: 'gpt-realtime-mini', voice: 'marin', apiKeyEnv: 'MY_KEY', openTimeoutMs: 3000 }
  t.match(resolveRealtime(base, { voice: 'cedar' }), { vendor: 'openai', model: 'gpt-realtime-mini', voice: 'cedar', apiKeyEnv: 'MY_KEY', openTimeoutMs: 3000 })
  t.match(resolveRealtime(base, { vendor: 'gemini' }), { vendor: 'gemini', model: 'gemini-live-2.5-flash-preview', voice: undefined, apiKeyEnv: 'GEMINI_API_KEY' })
  t.equal(resolveRealtime(undefined, undefined), undefined)
})

t.test('a missing key is a config error at call time, naming the variable', async (t) => {
  const err = (() => { try { createRealtimeVendor({ vendor: 'openai', model: 'gpt-realtime', voice: undefined, apiKeyEnv: 'PA_NOT_SET_ANYWHERE', baseUrl: undefined, openTimeoutMs: 1000 }, {}) } catch (e) { return e } })()
  t.ok(isPhoneAgentError(err, 'CONFIG_INVALID'))
  t.match((err as Error).message, /PA_NOT_SET_ANYWHERE/)
  t.equal(createRealtimeVendor({ vendor: 'gemini', model: 'm', voice: undefined, apiKeyEnv: 'K', baseUrl: undefined, openTimeoutMs: 1000 }, { K: 'x' }).name, 'gemini')
})

t.test('phone-agent check: a realtime receptionist needs its vendor key, not STT or an LLM', async (t) => {
  const { validateConfig } = await import('../../lib/cli/validate.ts')
  const config = buildConfig({
    media: { mode: 'stream' },
    agent: { realtime: { vendor: 'gemini', apiKeyEnv: 'PA_RT_KEY' } },
    routes: { [DID]: { script: 'receptionist', options: { mode: 'realtime' } }, '+390211111111': { script: 'receptionist' } },
  }, process.cwd())
  const fieldsOf = async (env: NodeJS.ProcessEnv): Promise<string[]> => {
    try {
      await validateConfig(config, { env, typecheck: false })
      return []
    } catch (err) {
      if (err instanceof ConfigProblems) return err.problems.map((p) => `${p.field}: ${p.message}`)
      throw err
    }
  }
  const withKey = await fieldsOf({ PA_RT_KEY: 'k' })
  t.same(withKey.filter((f) => f.startsWith(`routes.${DID}`) || f.startsWith('agent.realtime')), [], 'the realtime route asks for no STT or LLM')
  t.ok(withKey.some((f) => f.startsWith('routes.+390211111111.script') && /speech-to-text/.test(f)), 'the pipeline route still does')
  t.ok((await fieldsOf({})).some((f) => f === 'agent.realtime.apiKeyEnv: environment variable PA_RT_KEY is not set (the gemini realtime key)'), 'a missing key is named')
})
