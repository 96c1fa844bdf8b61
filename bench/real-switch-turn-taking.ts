/**
 * Turn-taking measured against a FreeSWITCH that is already running on this host, as
 * docs/benchmarks.md "On a real FreeSWITCH: turn-taking" was measured by hand. Our server runs as
 * `phone-agent serve` (stream mode), the provider fakes (bench/real-switch-fakes.ts) have the
 * turn-taking bench's latencies, SIPp is the phone's signalling and bench/real-switch-caller.ts
 * its RTP; tshark captures loopback and the figures come from the capture.
 *
 *   node --import tsx bench/real-switch-turn-taking.ts [--switch=127.0.0.1:5080] [--extension=1000]
 *     [--turns=10] [--calls=1] [--barge] [--vad=classic|silero] [--keep]
 *
 * Needs sipp and tshark on PATH (capturing on `lo` needs root or the wireshark group), and a
 * FreeSWITCH on this host that takes SIP on --switch without authentication, allows PCMU, and whose
 * dialplan answers --extension and runs `socket 127.0.0.1:<--esl-port> async full`. Nothing here
 * installs or configures FreeSWITCH. Ports: SIPp 5062, the caller's RTP 6100, the agent's Event
 * Socket --esl-port (8084), our media 32700-32800, FreeSWITCH's unicast 32500-32600, the fakes 18090.
 * Each call alternates preemptive replies on and off (first-audio), or with --barge runs five
 * barge-ins and five backchannels. Prints its figures with the load average; writes no file but
 * its run folder (kept with --keep).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { percentile } from './turn-taking-section.ts'
import { FAKE } from './turn-taking-child.ts'
import { ttsOffset } from './real-switch-caller.ts'
import { firstAudio, overlaps, readCapture, type Said, type TurnFigures } from './real-switch-pcap.ts'

const arg = (name: string, fallback: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const SWITCH = arg('switch', '127.0.0.1:5080')
const EXTENSION = arg('extension', '1000')
const TURNS = Number(arg('turns', '10'))
const CALLS = Number(arg('calls', '1'))
const ESL_PORT = Number(arg('esl-port', '8084'))
const VAD = arg('vad', 'classic')
const BARGE = process.argv.includes('--barge')
const KEEP = process.argv.includes('--keep')
const CALLER_PORT = 6100
const FAKES_PORT = 18090
const SWITCH_PORTS = { min: 32500, max: 32600 }
const OUR_PORTS = { min: 32700, max: 32800 }
const TSX = ['--import', 'tsx']

/** SIPp's side (the caller number is one the default guard admits): INVITE offering PCMU at CALLER_PORT (the caller process sends it), ACK, then BYE from either side. */
const SCENARIO = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="real-switch-caller">
<send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "bench" <sip:3900000001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:3900000001@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio ${CALLER_PORT} RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
]]></send>
<recv response="100" optional="true"/><recv response="180" optional="true"/><recv response="183" optional="true"/>
<recv response="200" rtd="true" rrs="true"/>
<send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "bench" <sip:3900000001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:3900000001@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0
]]></send>
<recv request="BYE" timeout="600000"/>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>
</scenario>
`

function config (dir: string, preemptive: boolean): Record<string, unknown> {
  const openai = { baseUrl: `http://127.0.0.1:${FAKES_PORT}/v1` }
  return {
    server: { host: '127.0.0.1', port: ESL_PORT },
    numbers: { defaultCountry: 'IT' },
    language: 'it-IT',
    defaultRoute: { script: 'receptionist' },
    transfers: { operator: { type: 'extension', extension: EXTENSION } },
    guard: { callers: { allowPrefixes: ['+'] } },
    agent: { transfers: { human: 'operator' } },
    speech: {
      retry: { maxAttempts: 1 },
      stt: { provider: 'openai', openai: { ...openai, model: 'whisper-1' } },
      llm: { provider: 'openai', openai: { ...openai, model: 'gpt-test' } },
      tts: { provider: 'openai', openai: { ...openai, format: 'pcm', sampleRate: 24_000 } },
    },
    media: {
      soundsDir: join(dir, 'sounds'),
      mode: 'stream',
      stream: { bindAddress: '127.0.0.1', ports: OUR_PORTS, freeswitchPorts: SWITCH_PORTS, vad: { engine: VAD }, endpointing: { adaptive: true, minSilenceMs: 250, preemptive } },
    },
    logging: { level: 'info' },
  }
}

/** Resolves when `child` prints `text` (stdout or stderr), rejects if it exits first. */
async function printed (child: ChildProcess, text: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let seen = ''
    const look = (b: Buffer): void => { seen += b.toString(); if (seen.includes(text)) resolve() }
    child.stdout?.on('data', look)
    child.stderr?.on('data', look)
    child.once('exit', (code) => { reject(new Error(`exited (${String(code)}) before printing "${text}": ${seen.slice(-500)}`)) })
  })
}

async function stopChild (child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
  await once(child, 'exit')
  clearTimeout(timer)
}

/** One call: returns the caller's log and the capture's figures. */
async function call (dir: string, preemptive: boolean): Promise<{ turns: TurnFigures[], overlaps: ReturnType<typeof overlaps>, said: Said[] }> {
  const children: Array<ChildProcess | undefined> = []
  try {
    const pcap = join(dir, 'lo.pcap')
    const filter = `udp and (port 5062 or port ${SWITCH.split(':')[1] ?? '5060'} or port ${CALLER_PORT} or portrange ${SWITCH_PORTS.min}-${OUR_PORTS.max} or portrange 16384-32768)`
    const tshark = spawn('tshark', ['-i', 'lo', '-B', '64', '-s', '400', '-f', filter, '-w', pcap], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(tshark)
    await printed(tshark, 'Capturing on')
    const fakes = fork(new URL('./real-switch-fakes.ts', import.meta.url), [String(FAKES_PORT), join(dir, 'fakes.jsonl')], { execArgv: TSX })
    children.push(fakes)
    await once(fakes, 'message')
    const cfg = join(dir, 'phone-agent.yaml')
    writeFileSync(cfg, JSON.stringify(config(dir, preemptive), null, 1))
    const agent = spawn(process.execPath, [new URL('../bin/phone-agent.js', import.meta.url).pathname, 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PHONE_AGENT_LOG_FORMAT: 'json' } })
    children.push(agent)
    await printed(agent, 'outbound event socket listening')
    const caller = fork(new URL('./real-switch-caller.ts', import.meta.url), [dir, BARGE ? 'barge' : 'first', String(TURNS), String(CALLER_PORT), String(FAKES_PORT)], { execArgv: TSX })
    children.push(caller)
    await once(caller, 'message')
    const scenario = join(dir, 'caller.xml')
    writeFileSync(scenario, SCENARIO)
    const sipp = spawn('sipp', ['-sf', scenario, '-s', EXTENSION, SWITCH, '-i', '127.0.0.1', '-p', '5062', '-m', '1', '-nostdin', '-trace_err', '-error_file', join(dir, 'sipp-errors.log')], { stdio: 'ignore' })
    children.push(sipp)
    // The call can end early (refused, a script error): then the caller hears nothing and is stopped.
    const done = once(caller, 'exit')
    await Promise.race([done, once(sipp, 'exit').then(async () => await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 10_000))]))])
  } finally {
    for (const child of children.reverse()) await stopChild(child)
  }
  const capture = readCapture(join(dir, 'lo.pcap'), CALLER_PORT, SWITCH_PORTS)
  const said = readFileSync(join(dir, 'caller.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"said"')).map((l) => JSON.parse(l) as Said)
  const offsets = new Map(said.map((s) => [s.turn, ttsOffset(s.turn)]))
  return { turns: firstAudio(capture, said, offsets), overlaps: overlaps(capture, said), said }
}

const ms = (v: number): string => Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a'
const p = (list: readonly number[], q: number): number => list.length === 0 ? NaN : percentile([...list], q)

async function main (): Promise<void> {
  const startLoad = loadavg()[0] ?? NaN
  const runs = { on: [] as TurnFigures[], off: [] as TurnFigures[], overlaps: [] as ReturnType<typeof overlaps> }
  for (let i = 0; i < CALLS; i++) {
    for (const preemptive of BARGE ? [true] : [true, false]) {
      const dir = mkdtempSync(join(tmpdir(), 'pa-real-switch-'))
      process.stderr.write(`bench: call ${i + 1}, preemptive ${String(preemptive)}, in ${dir}\n`)
      try {
        const r = await call(dir, preemptive)
        ;(BARGE ? [] : preemptive ? runs.on : runs.off).push(...r.turns)
        runs.overlaps.push(...r.overlaps)
        // A barge-in call's replies repeat one sentence (cache hits): no first-audio figures from it.
        for (const t of BARGE ? [] : r.turns) process.stderr.write(`bench:   turn ${t.turn}: ${t.fromWire.toFixed(1)} ms from the wire, ${t.fromRead.toFixed(1)} from the read (read delay ${t.readDelay.toFixed(1)}), written ${t.written.toFixed(1)} ms after ours\n`)
      } finally {
        if (!KEEP) rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  const fixed = FAKE.sttMs + FAKE.llmFirstTokenMs + FAKE.ttsMs
  const lines = [
    `Turn-taking against FreeSWITCH at ${SWITCH} (extension ${EXTENSION}), VAD ${VAD}, ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, load average ${startLoad.toFixed(1)} -> ${(loadavg()[0] ?? NaN).toFixed(1)} (1 min).`,
    '',
    '| measure | from the wire: p50 / p99 | from the read: p50 / p99 | turns |',
    '|---|---|---|---|',
  ]
  for (const [label, list, silence] of [['preemptive replies', runs.on, 100], ['no preemption', runs.off, 260]] as const) {
    if (list.length === 0) continue
    const wire = list.map((t) => t.fromWire)
    const read = list.map((t) => t.fromRead)
    lines.push(`| end of speech -> first agent audio, ${label} | ${ms(p(wire, 50))} / ${ms(p(wire, 99))} | ${ms(p(read, 50))} / ${ms(p(read, 99))} | ${list.length} |`)
    lines.push(`| overhead beyond ${fixed} ms and ${silence} ms | ${ms(p(wire, 50) - fixed - silence)} | ${ms(p(read, 50) - fixed - silence)} | |`)
    lines.push(`| FreeSWITCH's read of the caller's last packet: p50 (min-max) | ${ms(p(list.map((t) => t.readDelay), 50))} (${ms(Math.min(...list.map((t) => t.readDelay)))}-${ms(Math.max(...list.map((t) => t.readDelay)))}) | | |`)
  }
  for (const kind of ['barge', 'backchannel']) {
    const list = runs.overlaps.filter((o) => o.kind === kind).map((o) => o.stoppedMs)
    if (list.length > 0) lines.push(`| ${kind}: start of speech -> our audio to the caller stops | ${ms(p(list, 50))} / ${ms(p(list, 99))} | | ${list.length} |`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
