import type { Logger } from 'pino'
import type { SileroConfig, VadConfig, VadEngineName } from './config.ts'
import { loadSileroModel, type SileroModel } from './silero-model.ts'
import { SileroRunner, type Ticker } from './silero-runner.ts'
import { SileroVad } from './silero-vad.ts'
import { Vad, type VoiceDetector } from './vad.ts'

/**
 * The server's VAD: made once at start-up from `media.stream.vad`, asked for one detector per
 * listening stretch of a call. With `engine: silero` it owns the model and the batch runner
 * every call's detector shares; when Silero cannot run here (onnxruntime-node or the model
 * package missing or unloadable) it warns once and hands out classic detectors instead.
 */

export interface DetectorOptions {
  /** 8000 or 16000 (the call's stream rate). */
  readonly rate: number
  readonly endSilenceMs?: number | undefined
  readonly minSpeechMs?: number | undefined
  /** Aborting it frees the detector's batch slot (a call's signal); close() does too. */
  readonly signal?: AbortSignal | undefined
}

export interface VadEngineStatus {
  readonly requested: VadEngineName
  /** The engine that runs. */
  readonly engine: VadEngineName
  /** Why Silero was requested but classic runs. */
  readonly fallbackReason?: string
  /** Model file and runtime, when Silero runs. */
  readonly model?: string
}

export class VadEngine {
  readonly status: VadEngineStatus
  readonly #config: VadConfig
  readonly #runner: SileroRunner | undefined

  private constructor (config: VadConfig, status: VadEngineStatus, runner: SileroRunner | undefined) {
    this.#config = config
    this.status = status
    this.#runner = runner
  }

  /**
   * Load what the configured engine needs. Pass the media's frame scheduler as `ticker`
   * (`sharedScheduler()` from lib/media/stream) so inference runs on the frame tick; without
   * it the runner keeps its own `tickMs` timer (while some call is active). Never throws for a missing runtime: Silero falls
   * back to classic with one warning, so a server without onnxruntime still answers calls.
   */
  static async start (config: VadConfig, logger: Logger, options: { model?: SileroModel, ticker?: Ticker } = {}): Promise<VadEngine> {
    if (config.engine === 'classic') return new VadEngine(config, { requested: 'classic', engine: 'classic' }, undefined)
    let model = options.model
    let description = 'injected model'
    if (model === undefined) {
      const loaded = await loadSileroModel({ path: config.silero.modelPath, threads: config.silero.threads, worker: config.silero.worker })
      if (!loaded.ok) {
        logger.warn({ reason: loaded.reason }, 'Silero VAD unavailable: using the classic detector')
        return new VadEngine(config, { requested: 'silero', engine: 'classic', fallbackReason: loaded.reason }, undefined)
      }
      model = loaded.model
      description = `${loaded.model.info.path} (${loaded.model.info.runtime})`
    }
    let warned = false
    const runner = new SileroRunner({
      model,
      tickMs: config.silero.tickMs,
      ticker: options.ticker,
      onError: (err) => {
        if (warned) return
        warned = true
        logger.warn({ err }, 'Silero inference failed: affected windows are judged by the classic detector')
      },
    })
    logger.info({ model: description, tickMs: config.silero.tickMs, threads: config.silero.threads, worker: config.silero.worker }, 'Silero VAD loaded')
    return new VadEngine(config, { requested: 'silero', engine: 'silero', model: description }, runner)
  }

  /** The shared batch runner (Silero only): stats for metrics and benchmarks. */
  get runner (): SileroRunner | undefined { return this.#runner }

  /** A detector for one listening stretch; events come back synchronously from push(). */
  create (options: DetectorOptions): VoiceDetector {
    const base = {
      rate: options.rate,
      endSilenceMs: options.endSilenceMs ?? this.#config.endSilenceMs,
      minSpeechMs: options.minSpeechMs ?? this.#config.minSpeechMs,
      minEnergyDb: this.#config.minEnergyDb,
      snrDb: this.#config.snrDb,
    }
    if (this.#runner === undefined) return new Vad(base)
    return new SileroVad(this.#runner.open(options.rate), { ...base, ...sileroOptions(this.#config.silero), signal: options.signal })
  }

  /** Stop the runner and free the model (server shutdown). */
  async close (): Promise<void> {
    await this.#runner?.close()
  }
}

function sileroOptions (c: SileroConfig): { threshold: number, negThreshold?: number, holdMs: number } {
  return { threshold: c.threshold, holdMs: c.holdMs, ...(c.negThreshold === undefined ? {} : { negThreshold: c.negThreshold }) }
}

/** One line for `phone-agent check`: which engine would run, and why not Silero if asked for. */
export async function describeVadEngine (config: VadConfig): Promise<string> {
  if (config.engine === 'classic') return 'VAD: classic detector'
  const loaded = await loadSileroModel({ path: config.silero.modelPath, threads: config.silero.threads, worker: config.silero.worker })
  if (!loaded.ok) return `VAD: classic detector (Silero requested but unavailable: ${loaded.reason})`
  const line = `VAD: Silero v5 (${loaded.model.info.path}, ${loaded.model.info.runtime})`
  await loaded.model.close()
  return line
}
