import { isLoopback, type OpsConfig } from '../ops/config.ts'
import type { ConsoleConfig } from '../console/config.ts'
import type { NotifyConfig } from '../notify/config.ts'

export interface SecretProblem { readonly field: string, readonly message: string }

const unset = (env: NodeJS.ProcessEnv, name: string): boolean => env[name] === undefined || env[name] === ''

/**
 * The owner's services' secrets live in the environment: the webhook's HMAC key, the SMTP
 * password (when a user is set), and the console token when the console is reachable beyond
 * loopback. `phone-agent check` and `serve` report each one missing, naming the field.
 */
export function ownerSecretProblems (config: { notify: NotifyConfig, console: ConsoleConfig, ops: OpsConfig }, env: NodeJS.ProcessEnv): SecretProblem[] {
  const out: SecretProblem[] = []
  const hook = config.notify.webhook
  if (hook !== undefined && unset(env, hook.secretEnv)) {
    out.push({ field: 'notify.webhook.secretEnv', message: `environment variable ${hook.secretEnv} is not set (the key that signs each webhook)` })
  }
  const smtp = config.notify.email?.smtp
  if (smtp?.user !== undefined && unset(env, smtp.passwordEnv)) {
    out.push({ field: 'notify.email.smtp.passwordEnv', message: `environment variable ${smtp.passwordEnv} is not set (the SMTP password of ${smtp.user})` })
  }
  if (consoleNeedsToken(config) && unset(env, config.console.tokenEnv)) {
    out.push({
      field: 'console.tokenEnv',
      message: `environment variable ${config.console.tokenEnv} is not set: the console is served on ${config.ops.http.host}, not loopback, and needs a login token (at least 16 characters)`,
    })
  } else if (consoleNeedsToken(config) && (env[config.console.tokenEnv] ?? '').length < 16) {
    out.push({ field: 'console.tokenEnv', message: `environment variable ${config.console.tokenEnv} is shorter than 16 characters` })
  }
  return out
}

export function consoleNeedsToken (config: { console: ConsoleConfig, ops: OpsConfig }): boolean {
  return config.console.enabled && config.ops.http.enabled && !isLoopback(config.ops.http.host)
}
