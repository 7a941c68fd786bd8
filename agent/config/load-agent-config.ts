/**
 * Resolves `sigil-agent run` configuration: defaults < config file < SIGIL_* env < flags,
 * validated into a typed {@link AgentConfig}. Problems are SigilError `ERR_CONFIG_INVALID`
 * naming the option. The insecure bootstrap choice is allowed but reported by the caller, as are
 * the `warnings` (a join token file other users can read). A join token in argv is refused
 * (see join-token-source.ts).
 */
import { resolve } from 'node:path'
import { SigilError } from '../../certs/errors.js'
import { MAX_JWT_LEEWAY_SECONDS } from '../../certs/jwtsvid/validate-jwt-svid.js'
import { type KeyType, parseKeyType } from '../../certs/keys/keys.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { checkArgs } from '../../common/cli/parse-options.js'
import { readConfigFile } from '../../common/config/config-file.js'
import { type HostPort, parseHostPort } from '../../common/config/host-port.js'
import { agentOptions } from './agent-options.js'
import { checkConfigFileSecrets, readJoinTokenFile, refuseSecretsInArgv } from './join-token-source.js'
import { parseServerAddressList } from './server-address-list.js'

export interface AgentConfig {
  /** `--server-address` as given (for logs). */
  readonly serverAddress: string
  /** Its items (one or more `host:port`, checked; see server-address-list.ts). */
  readonly serverAddresses: readonly string[]
  readonly trustDomain: TrustDomain
  readonly joinToken: string | undefined
  readonly x509popCert: string | undefined
  readonly x509popKey: string | undefined
  readonly trustBundle: string | undefined
  readonly insecureBootstrap: boolean
  readonly socketPath: string
  readonly dataDir: string
  readonly syncIntervalMs: number
  /** Leeway of ValidateJWTSVID on `exp`, `nbf`, `iat`, in seconds (0..300). */
  readonly jwtLeewaySeconds: number
  readonly rotationFraction: number
  readonly spareSvids: number
  /** Workload API limits per connection, process and uid (see agent/workloadapi/caller-limits.ts). */
  readonly maxStreamsPerConnection: number
  readonly maxStreamsPerProcess: number
  readonly maxStreamsPerUid: number
  readonly maxConnectionsPerProcess: number
  readonly maxConnectionsPerUid: number
  readonly maxStreamBacklogBytes: number
  readonly workloadKeyType: KeyType
  /** The operators' listener (/metrics, /live, /ready); undefined → off. */
  readonly metricsAddress: HostPort | undefined
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error'
  /** How long a held Authorize call waits for an operator, in seconds (1..3600). */
  readonly approvalTimeoutSeconds: number
  /** Development and tests only: a Cedar policy set for Authorize, read once at start. */
  readonly policyFile: string | undefined
}

export type AgentLoadResult =
  | { kind: 'config'; config: AgentConfig; warnings: readonly string[] }
  | { kind: 'help'; text: string }

/**
 * Resolves the agent configuration from arguments (without `run`) and an environment.
 *
 * @example
 * const r = loadAgentConfig(['--join-token-file', 'token', '--trust-bundle', 'bundle.pem'], process.env)
 */
export function loadAgentConfig(args: string[], env: Record<string, string | undefined>): AgentLoadResult {
  refuseSecretsInArgv(args)
  let v: ReturnType<ReturnType<typeof agentOptions>['parse']>['values']
  try {
    // SPIRE's flags spelled the Sigil way (`-joinToken` is then refused like --join-token).
    const argv = checkArgs(agentOptions(env), args)
    refuseSecretsInArgv(argv)
    const first = agentOptions(env).parse(argv).values
    const jack = agentOptions(env)
    if (first.config) jack.setConfigValues(configFileValues(first.config) as never, first.config)
    v = jack.parse(argv).values
    if (v.help) return { kind: 'help', text: jack.usage() }
  } catch (cause) {
    if (cause instanceof SigilError) throw cause
    throw new SigilError('ERR_CONFIG_INVALID', `configuration: ${(cause as Error).message}`, { cause })
  }
  const fail = (option: string, why: string): never => {
    throw new SigilError('ERR_CONFIG_INVALID', `${option}: ${why}`)
  }
  const serverAddresses = parseServerAddressList(v['server-address'] as string)
  const serverAddress = serverAddresses.join(',')
  const durationMs = (option: 'sync-interval' | 'jwt-leeway' | 'approval-timeout'): number => {
    const d = /^(\d{1,9})(ms|s|m)?$/.exec(v[option] as string)
    if (!d) return fail(option, 'expected a duration such as 500ms, 5s or 1m')
    return Number(d[1]) * { ms: 1, s: 1000, m: 60000 }[(d[2] ?? 's') as 'ms' | 's' | 'm']
  }
  const syncIntervalMs = durationMs('sync-interval')
  if (!(syncIntervalMs >= 100)) fail('sync-interval', 'must be at least 100ms')
  const jwtLeewaySeconds = durationMs('jwt-leeway') / 1000
  if (jwtLeewaySeconds > MAX_JWT_LEEWAY_SECONDS) fail('jwt-leeway', `at most ${MAX_JWT_LEEWAY_SECONDS}s`)
  const approvalTimeoutSeconds = durationMs('approval-timeout') / 1000
  if (
    !(
      approvalTimeoutSeconds >= 1 &&
      approvalTimeoutSeconds <= 3600 &&
      Number.isInteger(approvalTimeoutSeconds)
    )
  )
    fail('approval-timeout', 'whole seconds from 1s to 60m')
  const rotationFraction = Number(v['rotation-fraction'])
  if (!(rotationFraction > 0 && rotationFraction < 1)) fail('rotation-fraction', 'must be between 0 and 1')
  const spareSvids = /^\d{1,6}$/.test(v['spare-svids'] as string) ? Number(v['spare-svids']) : Number.NaN
  if (!Number.isInteger(spareSvids)) fail('spare-svids', 'expected a whole number between 0 and 999999')
  const count = (option: string, min: number, max: number): number => {
    const raw = v[option as keyof typeof v]
    const n = typeof raw === 'string' && /^\d{1,10}$/.test(raw) ? Number(raw) : Number.NaN
    if (!(n >= min && n <= max)) fail(option, `expected a whole number between ${min} and ${max}`)
    return n
  }
  const maxStreamsPerConnection = count('max-streams-per-connection', 1, 100_000)
  const maxStreamsPerProcess = count('max-streams-per-process', 1, 1_000_000)
  const maxStreamsPerUid = count('max-streams-per-uid', 1, 1_000_000)
  const maxConnectionsPerProcess = count('max-connections-per-process', 1, 1_000_000)
  const maxConnectionsPerUid = count('max-connections-per-uid', 1, 1_000_000)
  const maxStreamBacklogBytes = count('max-stream-backlog-bytes', 1024, 1024 * 1024 * 1024)
  let trustDomain: TrustDomain
  try {
    trustDomain = TrustDomain.parse(v['trust-domain'] as string)
  } catch (cause) {
    throw new SigilError('ERR_CONFIG_INVALID', `trust-domain: ${(cause as Error).message}`, { cause })
  }
  const warnings: string[] = []
  let joinToken = v['join-token'] || undefined
  const joinTokenFile = v['join-token-file']
  if (joinTokenFile) {
    if (joinToken) fail('join-token-file', 'choose one of join-token and join-token-file')
    const read = readJoinTokenFile(resolve(joinTokenFile))
    joinToken = read.token
    if (read.warning) warnings.push(read.warning)
  }
  const config: AgentConfig = {
    serverAddress,
    serverAddresses,
    trustDomain,
    joinToken,
    x509popCert: v['x509pop-cert'] ? resolve(v['x509pop-cert']) : undefined,
    x509popKey: v['x509pop-key'] ? resolve(v['x509pop-key']) : undefined,
    trustBundle: v['trust-bundle'] ? resolve(v['trust-bundle']) : undefined,
    insecureBootstrap: v['insecure-bootstrap'] === true,
    socketPath: resolve(v['socket-path'] as string),
    dataDir: resolve(v['data-dir'] as string),
    syncIntervalMs,
    jwtLeewaySeconds,
    rotationFraction,
    spareSvids,
    maxStreamsPerConnection,
    maxStreamsPerProcess,
    maxStreamsPerUid,
    maxConnectionsPerProcess,
    maxConnectionsPerUid,
    maxStreamBacklogBytes,
    workloadKeyType: parseKeyType(v['workload-key-type'] as string),
    metricsAddress: v['metrics-address'] ? parseHostPort(v['metrics-address'], 'metrics-address') : undefined,
    logLevel: v['log-level'] as AgentConfig['logLevel'],
    approvalTimeoutSeconds,
    policyFile: v['policy-file'] ? resolve(v['policy-file']) : undefined,
  }
  if (Boolean(config.x509popCert) !== Boolean(config.x509popKey)) {
    fail('x509pop-cert', 'x509pop-cert and x509pop-key must be set together')
  }
  if (config.joinToken && config.x509popCert)
    fail('join-token', 'choose one of a join token and x509pop-cert')
  if (config.trustBundle && config.insecureBootstrap) {
    fail('insecure-bootstrap', 'trust-bundle and insecure-bootstrap exclude each other')
  }
  return { kind: 'config', config, warnings }
}

/** The config file's values; a join token in it must be readable by its owner only. */
function configFileValues(path: string): Record<string, unknown> {
  const values = readConfigFile(path)
  checkConfigFileSecrets(path, values)
  return values
}
