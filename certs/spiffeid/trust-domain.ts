/**
 * Trust domains: the authority part of a SPIFFE ID (`spiffe://<trust domain>`).
 * Validation follows SPIFFE-ID.md §2 plus one stricter rule Go's x509 parser
 * imposes: no empty DNS labels (leading, trailing or doubled `.`).
 */
import { SigilError } from '../errors.js'
import { echo } from '../lib/echo.js'

const TD_CHARS = /^[a-z0-9._-]+$/
const MAX_TD_BYTES = 255
const SCHEME = 'spiffe://'

/**
 * A validated trust-domain name, e.g. `example.org`.
 *
 * @example
 * const td = TrustDomain.parse('example.org') // or 'spiffe://example.org'
 * td.idString() // 'spiffe://example.org'
 */
export class TrustDomain {
  readonly name: string

  private constructor(name: string) {
    this.name = name
  }

  /** Accepts a bare name (`example.org`) or a trust-domain ID (`spiffe://example.org`). */
  static parse(input: string): TrustDomain {
    if (typeof input !== 'string') throw new TypeError('trust domain must be a string')
    const name = input.startsWith(SCHEME) ? input.slice(SCHEME.length) : input
    const why = trustDomainProblem(name)
    if (why) throw new SigilError('ERR_TRUST_DOMAIN_INVALID', `invalid trust domain "${echo(input)}": ${why}`)
    return new TrustDomain(name)
  }

  /** The trust domain's SPIFFE ID, `spiffe://<name>`, as CA certificates carry it. */
  idString(): string {
    return SCHEME + this.name
  }

  equals(other: TrustDomain): boolean {
    return this.name === other.name
  }

  toString(): string {
    return this.name
  }
}

/** Returns why `name` is not a valid trust-domain name, or undefined when it is. */
export function trustDomainProblem(name: string): string | undefined {
  if (name.length === 0) return 'trust domain is empty'
  if (Buffer.byteLength(name) > MAX_TD_BYTES) return `trust domain is longer than ${MAX_TD_BYTES} bytes`
  if (name.includes('@')) return 'userinfo is not allowed'
  if (name.startsWith('[') || name.includes(':')) {
    return name.startsWith('[') ? 'IPv6 addresses are not allowed' : 'a port is not allowed'
  }
  if (name.includes('%')) return 'percent-encoding is not allowed'
  if (/[A-Z]/.test(name)) return 'trust domain must be lowercase'
  if (!TD_CHARS.test(name)) return 'trust domain may contain only a-z, 0-9, ".", "-" and "_"'
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
    return 'trust domain has an empty DNS label (leading, trailing or doubled ".")'
  }
  return undefined
}
