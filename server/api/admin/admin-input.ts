/**
 * Validation of admin API request fields. Everything arriving on the admin socket is
 * checked here before it reaches the CA or the datastore; each failure is a SigilError
 * whose code `toGrpcError` turns into INVALID_ARGUMENT (or NOT_FOUND / ALREADY_EXISTS
 * where the datastore decides).
 */
import { SigilError } from '../../../certs/errors.js'
import { echo } from '../../../certs/lib/echo.js'
import { parseSelector, type Selector } from '../../../certs/selector/selector.js'
import { checkSelectorRule } from '../../../certs/selector/selector-rules.js'
import { parseWorkloadId, SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { dnsNameProblem } from '../../../certs/x509svid/dns-name.js'

/** Largest TTL a request may carry (the proto field is int32). */
export const MAX_TTL_SECONDS = 2_147_483_647
/** At most this many DNS names, selectors, audiences or federated trust domains per request. */
export const MAX_LIST_ITEMS = 64
/** Longest hint, audience value or entry id accepted. */
export const MAX_TEXT_BYTES = 1024

function invalid(message: string): never {
  throw new SigilError('ERR_INVALID_ARGUMENT', message)
}

/**
 * The server's own SPIFFE ID, `spiffe://<td>/sigil/server`: the parent of node-alias entries.
 *
 * @example
 * serverSpiffeId(TrustDomain.parse('example.org')).toString() // 'spiffe://example.org/sigil/server'
 */
export function serverSpiffeId(trustDomain: TrustDomain): SpiffeId {
  return SpiffeId.fromPath(trustDomain, '/sigil/server')
}

/** A required SPIFFE ID with a path, inside `trustDomain`. */
export function requireWorkloadId(value: string, trustDomain: TrustDomain, field: string): SpiffeId {
  if (value === '') invalid(`${field} is required`)
  return parseWorkloadId(value, trustDomain)
}

/** A TTL in whole seconds, 0 meaning "the default". */
export function checkTtl(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_TTL_SECONDS) {
    invalid(`${field} must be a whole number of seconds between 0 and ${MAX_TTL_SECONDS}`)
  }
  return value
}

/** A list of at most {@link MAX_LIST_ITEMS} items. */
export function checkListSize<T>(values: readonly T[], field: string): readonly T[] {
  if (values.length > MAX_LIST_ITEMS) invalid(`${field} has more than ${MAX_LIST_ITEMS} items`)
  return values
}

/** DNS SANs, each a valid host name (one leading `*` label allowed); de-duplicated, order kept. */
export function checkDnsNames(values: readonly string[]): string[] {
  checkListSize(values, 'dns_names')
  for (const name of values) {
    const why = dnsNameProblem(name)
    if (why) invalid(`invalid DNS name "${echo(name)}": ${why}`)
  }
  return [...new Set(values)]
}

/**
 * Wire selectors, each checked as `type:key:value` and against its kind's value rule
 * (certs/selector/selector-rules.ts); throws `ERR_SELECTOR_INVALID` naming the rule.
 */
export function checkSelectors(values: readonly { type: string; value: string }[]): Selector[] {
  checkListSize(values, 'selectors')
  return values.map((s) => {
    const parsed = parseSelector(`${s.type}:${s.value}`)
    if (parsed.type !== s.type) {
      throw new SigilError('ERR_SELECTOR_INVALID', `invalid selector type "${echo(s.type)}"`)
    }
    return checkSelectorRule(parsed)
  })
}

/** Free text without control characters, at most {@link MAX_TEXT_BYTES} bytes. */
export function checkText(value: string, field: string): string {
  if (Buffer.byteLength(value) > MAX_TEXT_BYTES) invalid(`${field} is longer than ${MAX_TEXT_BYTES} bytes`)
  if (hasControlCharacter(value)) invalid(`${field} contains control characters`)
  return value
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

/**
 * Federated trust domains, given as `spiffe://other.org` (or a bare `other.org`); returns
 * their names. Our own trust domain is refused: its bundle is always delivered.
 */
export function checkFederatesWith(values: readonly string[], own: TrustDomain): string[] {
  checkListSize(values, 'federates_with')
  const names = values.map((v) => {
    const td = v.startsWith('spiffe://') ? trustDomainIdOf(v) : TrustDomain.parse(v)
    if (td.equals(own)) invalid(`federates_with must not name the server's own trust domain "${own.name}"`)
    return td.name
  })
  return [...new Set(names)]
}

function trustDomainIdOf(value: string): TrustDomain {
  const id = SpiffeId.parse(value)
  if (!id.isTrustDomainId()) invalid(`federates_with "${echo(value)}" must be a trust domain ID (no path)`)
  return id.trustDomain
}

/** JWT audiences: non-empty, each a non-empty string without control characters. */
export function checkAudience(values: readonly string[]): string[] {
  if (values.length === 0) invalid('audience is required')
  checkListSize(values, 'audience')
  for (const a of values) {
    if (a === '') invalid('audience values must not be empty')
    checkText(a, 'audience')
  }
  return [...values]
}
