/**
 * SPIFFE IDs (`spiffe://<trust domain>/<path>`), parsed and formatted exactly per
 * SPIFFE-ID.md §2. The canonical string is what goes into URI SANs and `sub`
 * claims, and is compared byte for byte.
 */
import { SigilError } from '../errors.js'
import { TrustDomain, trustDomainProblem } from './trust-domain.js'

const SCHEME = 'spiffe://'
const SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/
/** IDs longer than this are rejected (the spec: accept up to 2048, never create longer). */
export const MAX_SPIFFE_ID_BYTES = 2048

/**
 * A validated SPIFFE ID.
 *
 * @example
 * const id = SpiffeId.parse('spiffe://example.org/ns/prod/sa/web')
 * id.trustDomain.name // 'example.org'
 * id.path // '/ns/prod/sa/web'
 * id.memberOf(TrustDomain.parse('example.org')) // true
 */
export class SpiffeId {
  readonly trustDomain: TrustDomain
  /** Empty for a trust-domain ID, otherwise `/seg(/seg)*`. */
  readonly path: string

  private constructor(trustDomain: TrustDomain, path: string) {
    this.trustDomain = trustDomain
    this.path = path
  }

  /** Parses and validates a SPIFFE ID string; throws `ERR_SPIFFE_ID_INVALID` naming the rule broken. */
  static parse(input: string): SpiffeId {
    if (typeof input !== 'string') throw new TypeError('SPIFFE ID must be a string')
    const fail = (why: string): never => {
      throw new SigilError('ERR_SPIFFE_ID_INVALID', `invalid SPIFFE ID "${truncate(input)}": ${why}`)
    }
    if (input.length === 0) fail('empty')
    if (Buffer.byteLength(input) > MAX_SPIFFE_ID_BYTES) fail(`longer than ${MAX_SPIFFE_ID_BYTES} bytes`)
    if (!input.startsWith(SCHEME)) fail('scheme must be "spiffe://" (lowercase)')
    if (input.includes('?')) fail('a query is not allowed')
    if (input.includes('#')) fail('a fragment is not allowed')
    const rest = input.slice(SCHEME.length)
    const slash = rest.indexOf('/')
    const tdName = slash === -1 ? rest : rest.slice(0, slash)
    const path = slash === -1 ? '' : rest.slice(slash)
    const tdWhy = trustDomainProblem(tdName)
    if (tdWhy) fail(tdWhy)
    const pathWhy = pathProblem(path)
    if (pathWhy) fail(pathWhy)
    return new SpiffeId(TrustDomain.parse(tdName), path)
  }

  /** Builds an ID from a trust domain and a path (`/a/b`); validates the path. */
  static fromPath(trustDomain: TrustDomain, path: string): SpiffeId {
    const why = pathProblem(path)
    if (why)
      throw new SigilError('ERR_SPIFFE_ID_INVALID', `invalid SPIFFE ID path "${truncate(path)}": ${why}`)
    const id = new SpiffeId(trustDomain, path)
    if (Buffer.byteLength(id.toString()) > MAX_SPIFFE_ID_BYTES) {
      throw new SigilError('ERR_SPIFFE_ID_INVALID', `SPIFFE ID longer than ${MAX_SPIFFE_ID_BYTES} bytes`)
    }
    return id
  }

  /** The trust-domain ID `spiffe://td` of a trust domain. */
  static forTrustDomain(trustDomain: TrustDomain): SpiffeId {
    return new SpiffeId(trustDomain, '')
  }

  /** True when this is a trust-domain ID (no path). */
  isTrustDomainId(): boolean {
    return this.path === ''
  }

  memberOf(trustDomain: TrustDomain): boolean {
    return this.trustDomain.equals(trustDomain)
  }

  equals(other: SpiffeId): boolean {
    return this.toString() === other.toString()
  }

  toString(): string {
    return SCHEME + this.trustDomain.name + this.path
  }
}

/** Returns why `path` is not a valid SPIFFE ID path, or undefined when it is. */
export function pathProblem(path: string): string | undefined {
  if (path === '') return undefined
  if (!path.startsWith('/')) return 'path must start with "/"'
  if (path.endsWith('/')) return 'path must not end with "/"'
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') return 'path has an empty segment ("//")'
    if (segment === '.' || segment === '..') return 'path has a dot segment ("." or "..")'
    if (segment.includes('%')) return 'percent-encoding is not allowed'
    if (!SEGMENT_CHARS.test(segment)) return 'path may contain only a-z, A-Z, 0-9, ".", "-", "_" and "/"'
  }
  return undefined
}

/** Parses `input` as a SPIFFE ID that must be a member of `trustDomain` and have a path. */
export function parseWorkloadId(input: string, trustDomain?: TrustDomain): SpiffeId {
  const id = SpiffeId.parse(input)
  if (id.isTrustDomainId()) {
    throw new SigilError('ERR_SPIFFE_ID_INVALID', `invalid SPIFFE ID "${input}": a workload ID needs a path`)
  }
  if (trustDomain && !id.memberOf(trustDomain)) {
    throw new SigilError(
      'ERR_TRUST_DOMAIN_MISMATCH',
      `SPIFFE ID "${input}" is not a member of trust domain "${trustDomain.name}"`,
    )
  }
  return id
}

function truncate(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s
}
