/**
 * The options every `sigil-agent api …` command and `healthcheck` share, declared once:
 * `--socket-path`, `--timeout`, `--output pretty|json`, `--help`. Each command adds its own
 * options to this table (see the command files) and resolves the common ones with
 * {@link commonApiSettings}.
 */
import { jack } from 'jackspeak'
import { SigilError } from '../../certs/errors.js'
import { DEFAULT_WORKLOAD_SOCKET, resolveWorkloadSocket } from './workload-endpoint.js'

/** The option table shared by the Workload API commands. */
export function apiOptions(usage: string, description: string) {
  return jack({ allowPositionals: false, usage })
    .description(description)
    .opt({
      'socket-path': {
        hint: 'path',
        description: `Workload API socket (default: SPIFFE_ENDPOINT_SOCKET, else ${DEFAULT_WORKLOAD_SOCKET})`,
      },
      timeout: { hint: 'duration', default: '5s', description: 'Give up after this long (e.g. 500ms, 5s)' },
      output: {
        hint: 'format',
        default: 'pretty',
        validOptions: ['pretty', 'json'],
        description: 'Output format',
      },
    })
    .flag({ help: { short: 'h', description: 'Print this help' } })
}

/** The resolved common options. */
export interface CommonApiSettings {
  readonly socketPath: string
  readonly timeoutMs: number
  readonly json: boolean
}

/** Resolves the common options; throws `ERR_CONFIG_INVALID` for a bad value. */
export function commonApiSettings(
  values: { 'socket-path'?: string | undefined; timeout?: string | undefined; output?: string | undefined },
  env: Record<string, string | undefined>,
): CommonApiSettings {
  const m = /^(\d+)(ms|s|m)?$/.exec(values.timeout ?? '5s')
  if (!m) throw new SigilError('ERR_CONFIG_INVALID', 'timeout: expected a duration such as 500ms, 5s or 1m')
  const timeoutMs = Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm']
  if (!(timeoutMs > 0)) throw new SigilError('ERR_CONFIG_INVALID', 'timeout: must be positive')
  return {
    socketPath: resolveWorkloadSocket(values['socket-path'], env),
    timeoutMs,
    json: values.output === 'json',
  }
}

/** Parses `args` with `table`, turning jackspeak's errors into `ERR_CONFIG_INVALID`. */
export function parseOptions<T>(parse: () => T): T {
  try {
    return parse()
  } catch (cause) {
    throw new SigilError('ERR_CONFIG_INVALID', (cause as Error).message, { cause })
  }
}
