/**
 * Child process of bench/echo-set.ts buildVoices(): synthesises the echo set's sentences and
 * writes them to stdout as JSON, so that a crash of the synthesiser costs a retry, not the run.
 */
import { synthesise, toSerial } from './echo-set.ts'

const set = await synthesise({ quick: process.argv.includes('--quick') })
process.stdout.write(JSON.stringify({ agent: set.agent.map(toSerial), callers: set.callers.map(toSerial), engines: set.engines }))
