/**
 * The files `phone-agent init` writes. Kept as data so a test can build the project and run a
 * call in it; every file says what to do next, nothing assumes knowledge of this repository.
 */

export interface ProjectOptions {
  /** npm package name of the new project. */
  readonly name: string
  /** How the project depends on phone-agent: `file:../phone-agent` or `^0.1.0`. */
  readonly dependency: string
  readonly devDependencies: Readonly<Record<string, string>>
  readonly allowScripts: Readonly<Record<string, boolean>>
  /** ISO country: national numbers and the default caller allowlist. */
  readonly country: string
  /** The DID routed to the example script, E.164. */
  readonly did: string
  /** The country's calling code with its plus: `+1`, `+39`. */
  readonly callingCode: string
  /** Where phone-agent's docs are, relative to the project. */
  readonly docs: string
}

export function projectFiles (o: ProjectOptions): Record<string, string> {
  return {
    'package.json': packageJson(o),
    'tsconfig.json': tsconfig(),
    'phone-agent.yaml': configYaml(o),
    'scripts/hello.ts': helloScript(o),
    'README.md': readme(o),
    '.gitignore': 'node_modules/\ndata/\nsounds/cache/\nsounds/recordings/\nsounds/agent/\nsounds/phone-agent/\n*.wav\n',
  }
}

function packageJson (o: ProjectOptions): string {
  return JSON.stringify({
    name: o.name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      check: 'phone-agent check',
      call: 'phone-agent call --say "Hello, I would like to leave a message."',
      serve: 'phone-agent serve',
      typecheck: 'tsc --noEmit -p .',
    },
    dependencies: { 'phone-agent': o.dependency },
    devDependencies: o.devDependencies,
    // phone-agent's own dependencies with install scripts: the native SQLite binding and
    // esbuild (used by tsx) need theirs; protobufjs's only checks versions.
    allowScripts: o.allowScripts,
  }, null, 2) + '\n'
}

/**
 * As strict as phone-agent's own, so its types (checked from source) pass here too. Incremental:
 * a script imports phone-agent's sources, some 600 files to check (about 4 CPU-seconds); the
 * build info under node_modules/.cache keeps what did not change, so the next `npm run
 * typecheck` after an edit checks the edit (about 1 CPU-second).
 */
function tsconfig (): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      noImplicitOverride: true,
      noFallthroughCasesInSwitch: true,
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      resolveJsonModule: true,
      noEmit: true,
      skipLibCheck: true,
      incremental: true,
      tsBuildInfoFile: 'node_modules/.cache/phone-agent/typecheck.tsbuildinfo',
    },
    include: ['scripts/**/*.ts'],
  }, null, 2) + '\n'
}

function configYaml (o: ProjectOptions): string {
  return `# phone-agent configuration. Every key: ${o.docs}/configuration-reference.md
# \`npx phone-agent check\` validates this file, the environment and scripts/ (type-checked);
# \`npx phone-agent call\` places a simulated call to your script. Secrets never go here: a
# provider names the environment variable that holds its key (${o.docs}/providers.md).

server:
  host: 127.0.0.1          # FreeSWITCH dialplan: <action application="socket" data="127.0.0.1:8084 async full"/>
  port: 8084

numbers:
  defaultCountry: ${o.country}         # national-format numbers are read as this country

# The offline voice speaks English. For other languages install espeak-ng, or configure a cloud
# voice under speech: (${o.docs}/providers.md).
language: en-US

routes:
  "${o.did}":          # your number (any form: +1..., 001..., national); other numbers are refused
    script: hello
    options:                 # handed to the script as call.options
      business: Example Company

scripts:
  hello:
    module: ./scripts/hello.ts

# Callers are admitted only from these prefixes. The default is your country's calling code
# (${o.callingCode} for ${o.country}); "+" alone admits every country. Anonymous callers are refused.
# guard:
#   callers:
#     allowPrefixes: ["${o.callingCode}"]

# Where call.transfer(name) may send a call: names only, never raw numbers.
# transfers:
#   reception: { type: extension, extension: "1000", context: default }
#   mobile:    { type: endpoint, dialString: "sofia/gateway/my-trunk/${o.did}" }

# AI conversations (call.ask, call.converse, the built-in receptionist) need speech-to-text and
# a language model, e.g. OpenAI with the key in $OPENAI_API_KEY:
# speech:
#   stt: { provider: openai, openai: { apiKeyEnv: OPENAI_API_KEY, model: gpt-4o-mini-transcribe } }
#   llm: { provider: openai, openai: { apiKeyEnv: OPENAI_API_KEY, model: gpt-4o-mini } }

media:
  soundsDir: ./sounds        # speech cache and recorded messages
records:
  dataDir: ./data            # call records (SQLite): npx phone-agent calls
logging:
  level: info
`
}

function helloScript (o: ProjectOptions): string {
  return `import { defineScript } from 'phone-agent'

/**
 * A first call script: greet the caller, take a message after the tone, say goodbye.
 *
 * Try it:   npx phone-agent call --say "Hello, I would like to leave a message."
 * Check it: npm run typecheck   (and npx phone-agent check, which also checks the config)
 *
 * Everything \`call\` can do: ${o.docs}/scripts.md
 */
export default defineScript(async (call) => {
  // call.options is the route's \`options:\` in phone-agent.yaml.
  const business = typeof call.options.business === 'string' ? call.options.business : 'us'

  // A logger for this call; \`phone-agent call\` shows these lines in its transcript.
  call.log.info({ caller: call.caller.number ?? 'withheld' }, 'new call')

  await call.answer()
  await call.say(\`Hello, you have reached \${business}. Please leave a message after the tone.\`)

  // Plays the tone, then records until two seconds of silence (or two minutes). The message is
  // filed with the call record (outcome message_taken); see it with \`npx phone-agent calls\`.
  const message = await call.record({ maxSeconds: 120, silence: { seconds: 2 } })
  if (message) call.log.info({ seconds: Math.round(message.durationMs / 1000) }, 'message left')

  // More verbs, for when you need them:
  //   const key = await call.digits({ max: 1, timeoutMs: 5000 })      // DTMF
  //   if (key === '0') await call.transfer('reception')                // a name under transfers:
  //   const answer = await call.ask('What is your name?')              // needs speech.stt
  //   await call.converse({ instructions: 'You take pizza orders.' })  // needs speech.stt and speech.llm

  await call.say(message ? 'Thank you, we will call you back. Goodbye.' : 'We did not hear a message. Goodbye.')
  await call.hangup()
}, {
  // Fixed phrases are rendered when the server starts, so answering never waits for the voice.
  phrases: ({ options }) => [
    \`Hello, you have reached \${typeof options.business === 'string' ? options.business : 'us'}. Please leave a message after the tone.\`,
    'Thank you, we will call you back. Goodbye.',
    'We did not hear a message. Goodbye.',
  ],
})
`
}

function readme (o: ProjectOptions): string {
  return `# ${o.name}

A phone agent built on [phone-agent](${o.docs}/../README.md): FreeSWITCH hands each call to
\`phone-agent serve\`, which runs the call script routed to the dialled number.

## Next steps

1. \`npm install\`
2. Try the example with a simulated call (no FreeSWITCH, no account):

   \`\`\`sh
   npx phone-agent call --say "Hello, I would like to leave a message."
   \`\`\`

   The transcript shows what the agent said, your script's log lines and the call record. Add
   \`--out call.wav\` for a recording of both sides, \`--dtmf 1@4000\` for a key press.
3. Edit \`scripts/hello.ts\` (the \`call\` API: ${o.docs}/scripts.md). \`npm run typecheck\` catches
   typos as you go; \`npx phone-agent check\` validates the config, the environment and every
   script together, as \`serve\` will at start-up.
4. Put your real number under \`routes:\` in \`phone-agent.yaml\` (it is ${o.did} now).
5. On the FreeSWITCH machine: add the dialplan extension (${o.docs}/freeswitch-pack.md), run
   \`npx phone-agent serve\`, and call your number. Operations (systemd, metrics, logs):
   ${o.docs}/operations.md.

For an AI conversation, add \`speech:\` providers (${o.docs}/providers.md) and route a number to
the built-in \`receptionist\` script, or call \`call.converse()\` from your own.
`
}
