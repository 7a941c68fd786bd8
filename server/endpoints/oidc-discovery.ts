/**
 * OIDC discovery for cloud federation (OpenID Connect Discovery 1.0, the subset relying
 * parties such as AWS IAM, GCP workload identity federation and Azure federated credentials
 * read): `GET /.well-known/openid-configuration` answers the issuer document and `GET /keys`
 * the JWT authorities of our bundle as a plain JWKS (`use: "sig"`, `alg`, `kid`) — the keys
 * that verify JWT-SVIDs and nothing else (no X.509 or other key kinds). Served on the bundle
 * endpoint's listener and, optionally, on a listener of its own (oidc-discovery-endpoint.ts).
 *
 * Trust: public by design, like the bundle. The `Host` header must name an allowed domain
 * (configured, plus loopback names and addresses): a foreign `Host` gets 400 and a body
 * saying only that, so a name we do not serve never learns our issuer or keys (and a
 * misconfigured proxy is noticed). `X-Forwarded-Host` is not read. Without a configured
 * issuer both paths answer 404 "OIDC discovery is not configured".
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isIP } from 'node:net'
import { publicKeyToJwk } from '../../certs/bundle/jwk.js'
import type { JwtAuthority, TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { isLoopbackHost } from '../../common/config/host-port.js'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { reply } from './public-http.js'

/** The discovery document's path. */
export const OIDC_CONFIGURATION_PATH = '/.well-known/openid-configuration'
/** The JWKS path (`jwks_uri` = issuer + this, unless configured). */
export const OIDC_KEYS_PATH = '/keys'

/** What discovery serves. */
export interface OidcDiscoveryConfig {
  /** `--jwt-issuer`; undefined: discovery answers 404 "not configured". */
  readonly issuer: string | undefined
  /** `jwks_uri`; default issuer (without a trailing `/`) + `/keys`. */
  readonly jwksUri?: string
  /** Extra `Host` names allowed besides loopback (lower case, no port). */
  readonly domains: readonly string[]
  /** The current bundle of our trust domain, asked on every request. */
  readonly bundle: () => TrustBundle
  readonly logger: Log
}

/** The OIDC discovery document. */
export interface OidcConfigurationDocument {
  issuer: string
  jwks_uri: string
  authorization_endpoint?: string
  response_types_supported: string[]
  subject_types_supported: string[]
  id_token_signing_alg_values_supported: string[]
}

/** One key of `/keys`: a JWT authority's public JWK with `kid`, `use: "sig"` and `alg`. */
export type OidcJwk = ReturnType<typeof publicKeyToJwk> & { kid: string; use: 'sig'; alg: string }

/**
 * `jwks_uri` for an issuer: the configured one, or the issuer without its trailing `/` plus `/keys`.
 *
 * @example
 * jwksUriFor('https://oidc.example.org') // 'https://oidc.example.org/keys'
 */
export function jwksUriFor(issuer: string, configured?: string): string {
  return configured ?? `${issuer.replace(/\/+$/, '')}${OIDC_KEYS_PATH}`
}

/**
 * The JWS algorithm a JWT authority's key signs with (as the JWT-SVID signer picks it):
 * ES256 for P-256, ES384 for P-384, ES512 for P-521, RS256 for RSA.
 */
export function jwtAuthorityAlgorithm(a: JwtAuthority): string {
  const jwk = publicKeyToJwk(a.publicKey)
  if (jwk.kty === 'RSA') return 'RS256'
  return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv]
}

/**
 * The `/keys` JWKS: every JWT authority of the bundle (prepared, active and retired alike,
 * as the bundle publishes them), nothing else.
 */
export function oidcKeys(bundle: TrustBundle): { keys: OidcJwk[] } {
  return {
    keys: bundle.jwtAuthorities.map((a) => ({
      ...publicKeyToJwk(a.publicKey),
      kid: a.kid,
      use: 'sig' as const,
      alg: jwtAuthorityAlgorithm(a),
    })),
  }
}

/**
 * The discovery document for `issuer` over `bundle`'s JWT authorities.
 *
 * @example
 * oidcConfiguration('https://oidc.example.org', undefined, bundle).jwks_uri // 'https://oidc.example.org/keys'
 */
export function oidcConfiguration(
  issuer: string,
  jwksUri: string | undefined,
  bundle: TrustBundle,
): OidcConfigurationDocument {
  const algs = new Set(bundle.jwtAuthorities.map(jwtAuthorityAlgorithm))
  return {
    issuer,
    jwks_uri: jwksUriFor(issuer, jwksUri),
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [...algs].sort(),
  }
}

/**
 * The host name of a `Host` header (lower case, port and IPv6 brackets removed, one trailing
 * dot dropped), or undefined when it is missing or malformed.
 */
export function hostNameOf(header: string | undefined): string | undefined {
  if (!header || header.length > 300) return undefined
  let h = header.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    if (end < 0) return undefined
    const rest = h.slice(end + 1)
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined
    h = h.slice(1, end)
    return isIP(h) === 6 ? h : undefined
  }
  const colon = h.indexOf(':')
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(h.slice(colon + 1))) return undefined
    h = h.slice(0, colon)
  }
  if (h.endsWith('.')) h = h.slice(0, -1)
  return /^[a-z0-9._-]+$/.test(h) ? h : undefined
}

/** True when the request's `Host` names a loopback host or one of `domains`. */
export function hostAllowed(header: string | undefined, domains: readonly string[]): boolean {
  const name = hostNameOf(header)
  if (name === undefined) return false
  return isLoopbackHost(name) || domains.includes(name)
}

/** True for the two discovery paths (the caller then hands the request to {@link serveOidcDiscovery}). */
export function isOidcDiscoveryPath(path: string | undefined): boolean {
  return path === OIDC_CONFIGURATION_PATH || path === OIDC_KEYS_PATH
}

/**
 * Answers a GET of one of the discovery paths (the caller checked method and path).
 */
export function serveOidcDiscovery(
  cfg: OidcDiscoveryConfig,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  if (!hostAllowed(req.headers.host, cfg.domains)) {
    reply(res, 400, 'this host name is not served here')
    return
  }
  if (cfg.issuer === undefined) {
    reply(res, 404, 'OIDC discovery is not configured (start the server with --jwt-issuer)')
    return
  }
  let doc: unknown
  try {
    const bundle = cfg.bundle()
    doc = path === OIDC_KEYS_PATH ? oidcKeys(bundle) : oidcConfiguration(cfg.issuer, cfg.jwksUri, bundle)
  } catch (err) {
    cfg.logger.error({ err: errorText(err) }, 'OIDC discovery has no bundle to serve')
    reply(res, 503, 'keys not available')
    return
  }
  const body = JSON.stringify(doc)
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    // keys rotate; a relying party refetches on an unknown kid, so a short cache is fine
    'Cache-Control': 'max-age=60',
  })
  res.end(body)
}
