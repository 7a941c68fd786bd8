/**
 * Resolves `sigil-server run` configuration: defaults < config file < SIGIL_* env < flags,
 * then validates every value into a typed {@link ServerConfig}. Any problem is a
 * SigilError `ERR_CONFIG_INVALID` whose message names the option and the rule.
 */
import { isAbsolute, join, resolve } from 'node:path'
import { SigilError } from '../../certs/errors.js'
import { type KeyType, parseKeyType } from '../../certs/keys/keys.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { parseOptions } from '../../common/cli/parse-options.js'
import { readConfigFile } from '../../common/config/config-file.js'
import { type HostPort, parseHostPort } from './address.js'
import { parseDurationSeconds } from './duration.js'
import { serverOptions } from './server-options.js'

export interface ServerConfig {
  readonly trustDomain: TrustDomain
  readonly dataDir: string
  readonly agentApiAddress: HostPort
  readonly adminSocket: string
  /** undefined when the bundle endpoint is off */
  readonly bundleEndpointAddress: HostPort | undefined
  readonly bundleEndpointProfile: 'https_web' | 'https_spiffe'
  readonly bundleEndpointCert: string | undefined
  readonly bundleEndpointKey: string | undefined
  readonly bundleRefreshHintSeconds: number
  readonly x509SvidTtlSeconds: number
  readonly jwtSvidTtlSeconds: number
  readonly agentSvidTtlSeconds: number
  readonly caTtlSeconds: number
  readonly caKeyType: KeyType
  readonly jwtKeyType: KeyType
  readonly jwtIssuer: string | undefined
  readonly upstreamCaCert: string | undefined
  readonly upstreamCaKey: string | undefined
  readonly upstreamCrl: string | undefined
  readonly x509popCa: string | undefined
  readonly joinTokenTtlSeconds: number
  /** Start a new CA although the datastore was built on another (see server/ca/ca-state-check.ts). */
  readonly allowNewCa: boolean
  /** Start on an empty datastore although CA keys exist. */
  readonly allowEmptyDatastore: boolean
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error'
}

export type LoadResult = { kind: 'config'; config: ServerConfig } | { kind: 'help'; text: string }

/**
 * Resolves the configuration from command-line arguments (without the `run` word) and an environment.
 *
 * @example
 * const r = loadServerConfig(['--trust-domain', 'example.org'], process.env)
 * if (r.kind === 'config') start(r.config)
 */
export function loadServerConfig(args: string[], env: Record<string, string | undefined>): LoadResult {
  const argv = args
  let values: ReturnType<ReturnType<typeof serverOptions>['parse']>['values']
  try {
    const first = parseOptions(serverOptions(env), argv)
    const jack = serverOptions(env)
    if (first.config) jack.setConfigValues(readConfigFile(first.config) as never, first.config)
    values = jack.parse(argv).values
    if (values.help) return { kind: 'help', text: jack.usage() }
  } catch (cause) {
    if (cause instanceof SigilError) throw cause
    throw new SigilError('ERR_CONFIG_INVALID', `configuration: ${(cause as Error).message}`, { cause })
  }
  const v = values
  const dataDir = resolve(v['data-dir'] as string)
  const trustDomain = wrap('trust-domain', () => TrustDomain.parse(v['trust-domain'] as string))
  const bundleAddr = v['bundle-endpoint-address'] as string
  const config: ServerConfig = {
    trustDomain,
    dataDir,
    agentApiAddress: parseHostPort(v['agent-api-address'] as string, 'agent-api-address'),
    adminSocket: v['admin-socket'] ? resolve(v['admin-socket']) : join(dataDir, 'private', 'admin.sock'),
    bundleEndpointAddress:
      bundleAddr === 'off' ? undefined : parseHostPort(bundleAddr, 'bundle-endpoint-address'),
    bundleEndpointProfile: v['bundle-endpoint-profile'] as 'https_web' | 'https_spiffe',
    bundleEndpointCert: optionalPath(v['bundle-endpoint-cert']),
    bundleEndpointKey: optionalPath(v['bundle-endpoint-key']),
    bundleRefreshHintSeconds: parseDurationSeconds(v['bundle-refresh-hint'] as string, 'bundle-refresh-hint'),
    x509SvidTtlSeconds: parseDurationSeconds(v['x509-svid-ttl'] as string, 'x509-svid-ttl'),
    jwtSvidTtlSeconds: parseDurationSeconds(v['jwt-svid-ttl'] as string, 'jwt-svid-ttl'),
    agentSvidTtlSeconds: parseDurationSeconds(v['agent-svid-ttl'] as string, 'agent-svid-ttl'),
    caTtlSeconds: parseDurationSeconds(v['ca-ttl'] as string, 'ca-ttl'),
    caKeyType: wrap('ca-key-type', () => parseKeyType(v['ca-key-type'] as string)),
    jwtKeyType: wrap('jwt-key-type', () => parseKeyType(v['jwt-key-type'] as string)),
    jwtIssuer: v['jwt-issuer'] || undefined,
    upstreamCaCert: optionalPath(v['upstream-ca-cert']),
    upstreamCaKey: optionalPath(v['upstream-ca-key']),
    upstreamCrl: optionalPath(v['upstream-crl']),
    x509popCa: optionalPath(v['x509pop-ca']),
    joinTokenTtlSeconds: parseDurationSeconds(v['join-token-ttl'] as string, 'join-token-ttl'),
    allowNewCa: v['allow-new-ca'] === true,
    allowEmptyDatastore: v['allow-empty-datastore'] === true,
    logLevel: v['log-level'] as ServerConfig['logLevel'],
  }
  if (Boolean(config.upstreamCaCert) !== Boolean(config.upstreamCaKey)) {
    throw new SigilError('ERR_CONFIG_INVALID', 'upstream-ca-cert and upstream-ca-key must be set together')
  }
  if (Boolean(config.bundleEndpointCert) !== Boolean(config.bundleEndpointKey)) {
    throw new SigilError(
      'ERR_CONFIG_INVALID',
      'bundle-endpoint-cert and bundle-endpoint-key must be set together',
    )
  }
  if (config.x509SvidTtlSeconds >= config.caTtlSeconds || config.agentSvidTtlSeconds >= config.caTtlSeconds) {
    throw new SigilError('ERR_CONFIG_INVALID', 'x509-svid-ttl and agent-svid-ttl must be shorter than ca-ttl')
  }
  return { kind: 'config', config }
}

function optionalPath(p: string | undefined): string | undefined {
  if (!p) return undefined
  return isAbsolute(p) ? p : resolve(p)
}

function wrap<T>(option: string, f: () => T): T {
  try {
    return f()
  } catch (cause) {
    throw new SigilError('ERR_CONFIG_INVALID', `${option}: ${(cause as Error).message}`, { cause })
  }
}
