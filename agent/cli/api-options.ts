/**
 * The options every `sigil-agent api …` command and `healthcheck` share, declared once:
 * `--socket-path`, `--timeout`, `--output pretty|json` (`--help` comes from `defineVerb`).
 * Each command adds its own options (see the command files) and resolves the common ones with
 * {@link commonApiSettings}.
 */
import type { ConfigSet, Jack } from 'jackspeak'
import { SigilError } from '../../certs/errors.js'
import { DEFAULT_WORKLOAD_SOCKET, resolveWorkloadSocket } from './workload-endpoint.js'

/** The default of `--timeout` (for `api watch`: no limit). */
export const DEFAULT_API_TIMEOUT = '5s'

/** Adds the options shared by the Workload API commands. */
export function withApiOptions<C extends ConfigSet>(j: Jack<C>, timeoutDescription?: string) {
  return j.opt({
    'socket-path': {
      hint: 'path',
      description: `Workload API socket (default: SPIFFE_ENDPOINT_SOCKET, else ${DEFAULT_WORKLOAD_SOCKET})`,
    },
    timeout: {
      hint: 'duration',
      description:
        timeoutDescription ?? `Give up after this long (e.g. 500ms, 5s; default ${DEFAULT_API_TIMEOUT})`,
    },
    output: {
      hint: 'format',
      default: 'pretty',
      validOptions: ['pretty', 'json'] as const,
      description: 'pretty, or json (one JSON document, 2-space indented)',
    },
  })
}

/** The resolved common options. */
export interface CommonApiSettings {
  readonly socketPath: string
  readonly timeoutMs: number
  readonly json: boolean
}

/** A `--timeout` value in milliseconds; throws `ERR_CONFIG_INVALID` for a bad value. */
export function timeoutMs(value: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(value)
  if (!m) throw new SigilError('ERR_CONFIG_INVALID', 'timeout: expected a duration such as 500ms, 5s or 1m')
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm']
  if (!(ms > 0)) throw new SigilError('ERR_CONFIG_INVALID', 'timeout: must be positive')
  return ms
}

/** Resolves the common options; throws `ERR_CONFIG_INVALID` for a bad value. */
export function commonApiSettings(
  values: { 'socket-path'?: string | undefined; timeout?: string | undefined; output?: string | undefined },
  env: Record<string, string | undefined>,
): CommonApiSettings {
  return {
    socketPath: resolveWorkloadSocket(values['socket-path'], env),
    timeoutMs: timeoutMs(values.timeout ?? DEFAULT_API_TIMEOUT),
    json: values.output === 'json',
  }
}
