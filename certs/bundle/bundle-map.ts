/**
 * The bundle map `{"trust_domains": {"<td name>": <SPIFFE bundle>, ...}}` (SPIFFE.md §4.1):
 * several trust domains' bundles in one document. Keys are bare trust-domain names (not
 * `spiffe://` IDs); duplicate keys are rejected; per-bundle refresh hints are left out.
 */
import { SigilError } from '../errors.js'
import { TrustDomain, trustDomainProblem } from '../spiffeid/trust-domain.js'
import { spiffeBundleDocument, spiffeBundleFromDocument } from './spiffe-bundle-json.js'
import { isObject, member, parseStrictJsonObject } from './strict-json.js'
import { TrustBundle } from './trust-bundle.js'

/**
 * Encodes bundles of distinct trust domains as a bundle map, sorted by trust-domain name.
 *
 * @example
 * encodeBundleMap([ourBundle, partnerBundle]) // '{"trust_domains":{"example.org":{…},"partner.org":{…}}}'
 */
export function encodeBundleMap(bundles: Iterable<TrustBundle>): string {
  const seen = new Set<string>()
  const entries: [string, unknown][] = []
  for (const b of bundles) {
    if (!(b instanceof TrustBundle)) throw new TypeError('every bundle must be a TrustBundle')
    if (seen.has(b.trustDomain.name)) throw new TypeError(`trust domain "${b.trustDomain.name}" given twice`)
    seen.add(b.trustDomain.name)
    entries.push([b.trustDomain.name, spiffeBundleDocument(b, { refreshHint: false })])
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  // Object.fromEntries defines own properties, so even a trust domain named "__proto__" is safe.
  return JSON.stringify({ trust_domains: Object.fromEntries(entries) })
}

/**
 * Decodes a bundle map into bundles keyed by trust-domain name. Throws `ERR_BUNDLE_INVALID`
 * for a malformed document, a key that is not a bare valid trust-domain name, a duplicate
 * key, or any malformed bundle in it.
 *
 * @example
 * const bundles = decodeBundleMap(json); bundles.get('partner.org')?.x509Authorities
 */
export function decodeBundleMap(json: string | Uint8Array): Map<string, TrustBundle> {
  const doc = parseStrictJsonObject(json, 'bundle map')
  const domains = member(doc, 'trust_domains')
  if (!isObject(domains)) {
    throw new SigilError('ERR_BUNDLE_INVALID', 'bundle map: "trust_domains" must be a JSON object')
  }
  const out = new Map<string, TrustBundle>()
  for (const [name, value] of Object.entries(domains)) {
    const why = name.startsWith('spiffe://')
      ? 'keys are bare trust-domain names, not spiffe:// IDs'
      : trustDomainProblem(name)
    if (why) {
      throw new SigilError(
        'ERR_BUNDLE_INVALID',
        `bundle map: key ${JSON.stringify(name).slice(0, 80)}: ${why}`,
      )
    }
    const bundle = spiffeBundleFromDocument(TrustDomain.parse(name), value, `bundle map entry "${name}"`)
    out.set(name, bundle.refreshHintSeconds === undefined ? bundle : bundle.withRefreshHint(undefined))
  }
  return out
}
