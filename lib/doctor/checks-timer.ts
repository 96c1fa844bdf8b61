import { XMLParser } from 'fast-xml-parser'
import { fail, pass, type CheckResult, type DoctorContext, type WriteTimer } from './types.ts'

/**
 * Which soft timer FreeSWITCH writes RTP on, worked out from switch.conf as it is loaded, against
 * media.stream.writeTimer. Source: signalwire/freeswitch cc93a683 (1.11.3), measured on a real
 * build the same day:
 * - switch_load_core_config() (src/switch_core.c ~2049) reads the first <settings> of switch.conf
 *   in switch_core_init(), before any module, and post_load_switch.conf after the modules
 *   (switch_core_init_and_modload(), ~2481): each <param> in order, the name compared with
 *   strcasecmp, a missing value read as "" (switch_xml_attr_soft).
 * - enable-softtimer-timerfd (~2218) sets TFD: switch_true -> 2; otherwise the strcasecmp tests
 *   are inverted, so "broadcast" -> 2 and every other value ("false", "no", "fd-per-timer") -> 1.
 *   Absent: TFD stays 2 on Linux (src/switch_time.c ~75, HAVE_TIMERFD_CREATE).
 * - enable-monotonic-timing sets MONO = switch_true(value); absent: 1 (switch_time.c ~63).
 * - enable-timer-matrix sets MATRIX = switch_true(value); enable-cond-yield true sets MATRIX = 1
 *   (switch_time.c ~360-380); MATRIX starts at 1.
 * - softtimer_runtime() (switch_time.c ~1055-1070), started with the modules: MONO && TFD -> it
 *   takes a timerfd of its own and sets MATRIX = 0.
 * - timer_next() (switch_time.c ~852-880): TFD == 2 -> _timerfd_next, one timerfd per timer;
 *   else !MATRIX -> do_sleep(interval) before every write ("sleep"); else wait for the shared
 *   TIMER_MATRIX tick ("matrix").
 * A build without timerfd is always the matrix; the Event Socket cannot show that, so it is not
 * modelled. switch.conf is read only at start: after an edit and reloadxml the loaded XML can say
 * what the running switch does not do, hence every fix ends with a restart.
 */

export type SwitchTimer = WriteTimer | 'sleep'

/** A <param name value> of a <settings>, in document order. */
export type Param = readonly [name: string, value: string]

/**
 * glibc atoi(): strtol() saturated to 64 bits, then cut to an int. switch_is_number() already
 * allowed only an optional sign, digits and dots, so the digits end at the first dot.
 */
function atoi (s: string): number {
  const m = /^[+-]?\d+/.exec(s)
  if (m === null) return 0
  const max = (1n << 63n) - 1n
  let n = BigInt(m[0])
  n = n > max ? max : n < -max - 1n ? -max - 1n : n
  return Number(BigInt.asIntN(32, n))
}

/** switch_true() (src/include/switch_utils.h ~518). */
export function switchTrue (v: string): boolean {
  if (['yes', 'on', 'true', 't', 'enabled', 'active', 'allow'].includes(v.toLowerCase())) return true
  // switch_is_number() (switch_utils.c ~1636): "" passes, and atoi("") is 0.
  return /^[+-]?[0-9.]*$/.test(v) && atoi(v) !== 0
}

/** TFD for a value of enable-softtimer-timerfd, exactly as switch_core.c ~2218 computes it. */
export function softtimerTimerfd (v: string): 1 | 2 {
  if (switchTrue(v)) return 2
  return v.toLowerCase() !== 'broadcast' ? 1 : 2
}

interface TimeGlobals { tfd: number, mono: boolean, matrix: boolean }

function apply (g: TimeGlobals, params: readonly Param[]): void {
  for (const [name, value] of params) {
    switch (name.toLowerCase()) {
      case 'enable-softtimer-timerfd': g.tfd = softtimerTimerfd(value); break
      case 'enable-monotonic-timing': g.mono = switchTrue(value); break
      case 'enable-timer-matrix': g.matrix = switchTrue(value); break
      case 'enable-cond-yield': if (switchTrue(value)) g.matrix = true; break
    }
  }
}

/** The timer timer_next() runs, from switch.conf's and post_load_switch.conf's settings. */
export function switchWriteTimer (switchConf: readonly Param[], postLoad: readonly Param[] = []): SwitchTimer {
  const g: TimeGlobals = { tfd: 2, mono: true, matrix: true }
  apply(g, switchConf)
  if (g.mono && g.tfd !== 0) g.matrix = false
  apply(g, postLoad)
  return g.tfd === 2 ? 'timerfd' : g.matrix ? 'matrix' : 'sleep'
}

const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  // The value as FreeSWITCH holds it: "true " is not switch_true.
  trimValues: false,
  parseAttributeValue: false,
  isArray: (n) => n === 'settings' || n === 'param',
})

/**
 * The params of the first <settings> of `xml_locate configuration configuration name FILE`
 * (mod_commands.c xml_locate_function: the element as switch_xml_toxml prints it, or "can't
 * find anything" when switch_xml_locate fails, the same lookup switch_xml_open_cfg makes).
 */
async function loadSettings (c: DoctorContext, file: string): Promise<Param[] | undefined> {
  const out = await c.esl.api(`xml_locate configuration configuration name ${file}`)
  if (!out.trimStart().startsWith('<configuration')) return undefined
  try {
    const doc = xml.parse(out) as { configuration?: { settings?: Array<{ param?: Array<Record<string, unknown>> } | string> } }
    const settings = doc.configuration?.settings?.[0]
    const params = typeof settings === 'object' ? settings.param ?? [] : []
    return params.map((p) => [String(p['@name'] ?? ''), String(p['@value'] ?? '')] as const)
  } catch {
    return undefined
  }
}

const NAME = 'FreeSWITCH write timer'
const TIMER_PARAMS = ['enable-softtimer-timerfd', 'enable-monotonic-timing', 'enable-timer-matrix', 'enable-cond-yield']

/** 'switch.conf enable-softtimer-timerfd="false", enable-monotonic-timing absent': what the verdict rests on. */
function settingsText (switchConf: readonly Param[], postLoad: readonly Param[]): string {
  // The two that decide on a stock build are always named; the other two only when set.
  const shown = (params: readonly Param[], always: readonly string[]): string[] => TIMER_PARAMS.flatMap((n) => {
    const last = params.findLast(([k]) => k.toLowerCase() === n)
    return last !== undefined ? [`${n}="${last[1]}"`] : always.includes(n) ? [`${n} absent`] : []
  })
  const post = shown(postLoad, [])
  return `switch.conf ${shown(switchConf, TIMER_PARAMS.slice(0, 2)).join(', ')}${post.length > 0 ? `; post_load_switch.conf ${post.join(', ')}` : ''}`
}

const RESTART = 'then restart FreeSWITCH (it reads switch.conf only when it starts)'

/** Where to remove enable-softtimer-timerfd from: the file(s) that set it. */
function timerfdFiles (postLoad: readonly Param[]): string {
  const inPostLoad = postLoad.some(([k]) => k.toLowerCase() === 'enable-softtimer-timerfd')
  return `autoload_configs/switch.conf.xml${inPostLoad ? ' and post_load_switch.conf.xml' : ''}`
}

/** FreeSWITCH's write timer agrees with media.stream.writeTimer, and is not the 20 ms sleep. */
export async function checkWriteTimer (c: DoctorContext): Promise<CheckResult[]> {
  const ours = c.input.writeTimer
  // No stream media: the timer then paces only FreeSWITCH's own playback, not frames of ours.
  if (ours === undefined) return []
  const switchConf = await loadSettings(c, 'switch.conf')
  if (switchConf === undefined) {
    return [fail(NAME, 'switch.conf is not in the loaded XML (xml_locate configuration configuration name switch.conf), so the soft timer FreeSWITCH writes our frames on cannot be told',
      `restore autoload_configs/switch.conf.xml (vanilla's, without enable-softtimer-timerfd), ${RESTART}`)]
  }
  const postLoad = await loadSettings(c, 'post_load_switch.conf') ?? []
  const theirs = switchWriteTimer(switchConf, postLoad)
  const settings = settingsText(switchConf, postLoad)
  const files = timerfdFiles(postLoad)
  if (theirs === 'sleep') {
    return [fail(NAME, `sleep (${settings}): FreeSWITCH sleeps 20 ms before every RTP write, so every frame we send waits 20+ ms in FreeSWITCH and replies reach the caller 25-55 ms late`,
      `remove enable-softtimer-timerfd from ${files} (or set it to true), ${RESTART}; ${ours === 'timerfd' ? 'media.stream.writeTimer stays timerfd' : 'and set media.stream.writeTimer: timerfd in the config'}`)]
  }
  if (theirs === ours) return [pass(NAME, `${theirs} (${settings}), as media.stream.writeTimer says`)]
  if (theirs === 'timerfd') {
    return [fail(NAME, `timerfd (${settings}) but media.stream.writeTimer is matrix: a quiet line gets idle silence on every tick that it does not need (CPU, nothing heard)`,
      'set media.stream.writeTimer: timerfd (the default) in the config')]
  }
  return [fail(NAME, `matrix (${settings}) but media.stream.writeTimer is timerfd: after idle ticks a reply's first frame waits in FreeSWITCH for the next 20 ms tick`,
    `set media.stream.writeTimer: matrix in the config (or, faster: remove enable-softtimer-timerfd from ${files}, ${RESTART})`)]
}
