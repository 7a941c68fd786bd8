/**
 * The server's tainted signing authorities as this agent last heard them (pushed on
 * WatchAgentUpdates, `AuthorityTaintUpdate`): X.509 CAs by subject key identifier (lowercase
 * hex, the authority key identifier of every SVID they signed) and JWT keys by `kid`. The agent
 * re-issues at once every SVID one of them signed (`localauthority taint`), before an operator
 * revokes the authority and those SVIDs stop verifying.
 *
 * Trust: updates come only from the authenticated server connection; a taint only makes the
 * agent renew sooner, never serve anything it would not serve otherwise.
 *
 * @example
 * const tainted = new TaintedAuthorities()
 * tainted.onChange(() => cache.renewTainted(tainted))
 * tainted.set(['3f0c…'], [])
 */
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'

/** The tainted authorities (see the module comment). */
export class TaintedAuthorities {
  #x509: ReadonlySet<string> = new Set()
  #jwt: ReadonlySet<string> = new Set()
  readonly #listeners = new Set<() => void>()

  /** How many authorities are tainted. */
  get size(): number {
    return this.#x509.size + this.#jwt.size
  }

  /** Replaces the set (the server always sends it complete); listeners hear a change. */
  set(x509: readonly string[], jwt: readonly string[]): void {
    const nextX509 = new Set(x509.map((id) => id.toLowerCase()))
    const nextJwt = new Set(jwt)
    const same = (a: ReadonlySet<string>, b: ReadonlySet<string>) =>
      a.size === b.size && [...a].every((v) => b.has(v))
    if (same(nextX509, this.#x509) && same(nextJwt, this.#jwt)) return
    this.#x509 = nextX509
    this.#jwt = nextJwt
    for (const l of [...this.#listeners]) l()
  }

  /** True when the X.509 CA that signed `leafDer` is tainted (by the leaf's authority key ID). */
  signedLeaf(leafDer: Buffer | undefined): boolean {
    if (this.#x509.size === 0 || leafDer === undefined) return false
    let aki: Buffer | undefined
    try {
      aki = readCertificateFacts(leafDer).authorityKeyId
    } catch {
      return false
    }
    return aki !== undefined && this.#x509.has(aki.toString('hex'))
  }

  /** True when the JWT key `kid` of a compact JWS `token` is tainted. */
  signedToken(token: string): boolean {
    if (this.#jwt.size === 0) return false
    const dot = token.indexOf('.')
    if (dot <= 0) return false
    try {
      const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as {
        kid?: unknown
      }
      return typeof header.kid === 'string' && this.#jwt.has(header.kid)
    } catch {
      return false
    }
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
