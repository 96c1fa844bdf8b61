import { parseArgs } from 'node:util'
import { configPath, loadConfigFile, type Config } from '../config/load.ts'
import { runDoctor, formatReport, type DoctorInput } from '../doctor/run.ts'

export const DOCTOR_USAGE = `Usage: phone-agent doctor [--config PATH]

Checks the running FreeSWITCH against this config through its inbound Event Socket
(doctor.eventSocket: 127.0.0.1:8021 by default, password in $PHONE_AGENT_ESL_PASSWORD):
required modules loaded; FreeSWITCH's RTP write timer (switch.conf) matches
media.stream.writeTimer (stream mode); every routed DID reaches our socket (a dialplan lookup); the ACL
admits each of doctor.trunkRanges and refuses outside addresses; gateways registered; the
outbound context refuses premium and satellite numbers (nothing is dialled); external_sip_ip
and external_rtp_ip set; our sounds directory visible to FreeSWITCH; the Event Socket on
loopback without the default password; the fallback's voicemail user present.

One line per check, ✔ or ✘ with the fix. Exit code 0 when every check passes, 1 otherwise.
`

/** What the doctor needs from the loaded config. */
export function doctorInput (config: Config): DoctorInput {
  // The write timer matters only where a call streams its media (any route, or the default).
  const stream = [config.media.mode, ...Object.values(config.routes).map((r) => r.mediaMode), config.defaultRoute?.mediaMode].includes('stream')
  return {
    doctor: config.doctor,
    server: { host: config.server.host, port: config.server.port },
    dids: Object.keys(config.routes),
    defaultCountry: config.numbers.defaultCountry,
    callerPrefix: config.guard.callers.allowPrefixes[0] ?? '+39',
    soundsDir: config.media.soundsDir,
    freeswitchSoundsDir: config.media.freeswitchSoundsDir,
    ...(stream ? { writeTimer: config.media.stream.writeTimer } : {}),
  }
}

interface Io { readonly out: NodeJS.WritableStream, readonly err: NodeJS.WritableStream, readonly env: NodeJS.ProcessEnv }

/** Shaped as lib/cli/command.ts's Command: usage, run. */
export const doctorCommand = {
  usage: DOCTOR_USAGE,
  async run (argv: readonly string[], io: Io): Promise<number> {
    const { values } = parseArgs({ args: [...argv], options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true })
    if (values.help === true) { io.out.write(DOCTOR_USAGE); return 0 }
    const config = await loadConfigFile(configPath(values.config, io.env))
    const results = await runDoctor(doctorInput(config), { env: io.env })
    io.out.write(formatReport(results))
    return results.every((r) => r.ok) ? 0 : 1
  },
}
