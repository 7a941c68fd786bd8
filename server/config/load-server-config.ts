/**
 * Resolves `sigil-server run` configuration: defaults < config file < SIGIL_* env < flags,
 * then validates every value into a typed {@link ServerConfig}. Any problem is a
 * SigilError `ERR_CONFIG_INVALID` whose message names the option and the rule.
 */
import { isIP } from 'node:net'
import { isAbsolute, join, resolve } from 'node:path'
import { SigilError } from '../../certs/errors.js'
import { type KeyType, parseKeyType } from '../../certs/keys/keys.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { checkArgs } from '../../common/cli/parse-options.js'
import { readConfigFile } from '../../common/config/config-file.js'
import { type HostPort, isLoopbackHost, parseHostPort } from '../../common/config/host-port.js'
import type { DatastoreSpec } from '../datastore/open-data-store.js'
import { datastoreSpec } from './datastore-option.js'
import { parseDurationSeconds } from './duration.js'
import { serverOptions } from './server-options.js'

export interface ServerConfig {
  readonly trustDomain: TrustDomain
  readonly dataDir: string
  /** The registry's backend; a PostgreSQL URL may hold a password (log only `describeDatastore`). */
  readonly datastore: DatastoreSpec
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
  /** OIDC discovery `jwks_uri`; undefined → `<jwtIssuer>/keys`. */
  readonly oidcJwksUri: string | undefined
  /** A listener of its own for OIDC discovery; undefined → bundle endpoint only. */
  readonly oidcDiscoveryAddress: HostPort | undefined
  /** Serve oidcDiscoveryAddress as plain HTTP (loopback only). */
  readonly oidcDiscoveryPlainHttp: boolean
  /** Host names discovery answers for besides loopback (lower case): the configured ones plus the issuer's and jwks_uri's hosts. */
  readonly oidcDiscoveryDomains: readonly string[]
  /** The operators' listener (/metrics, /live, /ready); undefined → off. */
  readonly metricsAddress: HostPort | undefined
  readonly upstreamCaCert: string | undefined
  readonly upstreamCaKey: string | undefined
  readonly upstreamCrl: string | undefined
  readonly x509popCa: string | undefined
  readonly joinTokenTtlSeconds: number
  /** Federation: extra CAs for https_web bundle endpoints (a PEM file); undefined → system roots only. */
  readonly federationWebCa: string | undefined
  /** Federation: the shortest pause between two fetches of one foreign bundle. */
  readonly federationMinRefreshSeconds: number
  /** Start a new CA although the datastore was built on another (see server/ca/ca-state-check.ts). */
  readonly allowNewCa: boolean
  /** Start on an empty datastore although CA keys exist. */
  readonly allowEmptyDatastore: boolean
  /** An additional server on a shared datastore: start its own CA beside the others (issue 15). */
  readonly joinDatastore: boolean
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
  let values: ReturnType<ReturnType<typeof serverOptions>['parse']>['values']
  try {
    // SPIRE's flags spelled the Sigil way (common/cli/spire-flags.ts), then parsed twice: the
    // first parse finds --config, whose file sits below env and flags.
    const argv = checkArgs(serverOptions(env), args)
    const first = serverOptions(env).parse(argv).values
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
    datastore: datastoreSpec(
      {
        datastore: v.datastore,
        poolSize: v['datastore-pool-size'],
        statementTimeout: v['datastore-statement-timeout'],
      },
      dataDir,
      args,
    ),
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
    jwtIssuer: v['jwt-issuer'] ? checkOidcUrl(v['jwt-issuer'], 'jwt-issuer') : undefined,
    oidcJwksUri: v['oidc-jwks-uri'] ? checkOidcUrl(v['oidc-jwks-uri'], 'oidc-jwks-uri') : undefined,
    oidcDiscoveryAddress: v['oidc-discovery-address']
      ? parseHostPort(v['oidc-discovery-address'], 'oidc-discovery-address')
      : undefined,
    oidcDiscoveryPlainHttp: v['oidc-discovery-plain-http'] === true,
    oidcDiscoveryDomains: [],
    metricsAddress: v['metrics-address'] ? parseHostPort(v['metrics-address'], 'metrics-address') : undefined,
    upstreamCaCert: optionalPath(v['upstream-ca-cert']),
    upstreamCaKey: optionalPath(v['upstream-ca-key']),
    upstreamCrl: optionalPath(v['upstream-crl']),
    x509popCa: optionalPath(v['x509pop-ca']),
    joinTokenTtlSeconds: parseDurationSeconds(v['join-token-ttl'] as string, 'join-token-ttl'),
    federationWebCa: optionalPath(v['federation-web-ca']),
    federationMinRefreshSeconds: parseDurationSeconds(
      v['federation-min-refresh'] as string,
      'federation-min-refresh',
    ),
    allowNewCa: v['allow-new-ca'] === true,
    allowEmptyDatastore: v['allow-empty-datastore'] === true,
    joinDatastore: v['join-datastore'] === true,
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
  if (config.oidcDiscoveryPlainHttp) {
    if (!config.oidcDiscoveryAddress) {
      throw new SigilError('ERR_CONFIG_INVALID', 'oidc-discovery-plain-http needs oidc-discovery-address')
    }
    if (!isLoopbackHost(config.oidcDiscoveryAddress.host)) {
      throw new SigilError(
        'ERR_CONFIG_INVALID',
        `oidc-discovery-plain-http: plain HTTP is allowed only on a loopback address, not ${config.oidcDiscoveryAddress.host}`,
      )
    }
  }
  const domains = new Set<string>()
  for (const d of (v['oidc-discovery-domain'] as string[] | undefined) ?? []) {
    domains.add(wrap('oidc-discovery-domain', () => checkDomain(d)))
  }
  for (const u of [config.jwtIssuer, config.oidcJwksUri]) {
    if (u) domains.add(new URL(u).hostname.replace(/^\[(.*)\]$/, '$1'))
  }
  return { kind: 'config', config: { ...config, oidcDiscoveryDomains: [...domains] } }
}

/**
 * An OIDC issuer or jwks_uri: an absolute https URL (http only for a loopback host, for
 * tests and a local proxy), no user info, query or fragment (OpenID Connect Discovery §3).
 */
function checkOidcUrl(text: string, option: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch (cause) {
    throw new SigilError('ERR_CONFIG_INVALID', `${option}: "${text}" is not a URL`, { cause })
  }
  const problem =
    url.protocol !== 'https:' && url.protocol !== 'http:'
      ? 'must be an https URL'
      : url.protocol === 'http:' && !isLoopbackHost(url.hostname)
        ? 'must be https (http only for a loopback host)'
        : url.username || url.password
          ? 'must not carry user info'
          : url.search || url.hash || text.includes('?') || text.includes('#')
            ? 'must not carry a query or fragment'
            : undefined
  if (problem) throw new SigilError('ERR_CONFIG_INVALID', `${option}: "${text}" ${problem}`)
  return text
}

/** A host name for the discovery allow-list: a DNS name or an IP address, lower-cased. */
function checkDomain(d: string): string {
  const name = d.trim().toLowerCase().replace(/\.$/, '')
  if (
    isIP(name) !== 0 ||
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name)
  )
    return name
  throw new Error(`"${d}" is not a host name (no scheme, port or path)`)
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
