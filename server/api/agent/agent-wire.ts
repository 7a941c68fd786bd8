/**
 * Conversions from Sigil's records to the `sigil.common.v1` wire messages of the agent API.
 * Times become unix seconds; trust-domain names in `federates_with` become trust-domain IDs
 * (`spiffe://other.org`), as the proto documents.
 */
import { encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import type { MintedX509Svid } from '../../../certs/x509svid/x509-svid-minter.js'
import type { Bundle } from '../../../proto/generated/sigil/common/v1/Bundle.js'
import type { RegistrationEntry as WireEntry } from '../../../proto/generated/sigil/common/v1/RegistrationEntry.js'
import type { X509Svid } from '../../../proto/generated/sigil/common/v1/X509Svid.js'
import type { BundleRecord, RegistrationEntry } from '../../datastore/datastore.js'

/** Unix seconds of a date. */
export function unixSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000)
}

/** A minted X509-SVID as the wire carries it (no key: the requester kept it). */
export function toWireX509Svid(svid: MintedX509Svid): X509Svid {
  return {
    spiffe_id: svid.spiffeId.toString(),
    cert_chain: [...svid.chainDer],
    expires_at: unixSeconds(svid.notAfter),
    serial: svid.serialHex,
  }
}

const encoded = new WeakMap<TrustBundle, Buffer>()

/** The own trust domain's bundle as a wire `Bundle` (the JSON is encoded once per bundle). */
export function toWireBundle(bundle: TrustBundle): Bundle {
  let json = encoded.get(bundle)
  if (!json) {
    json = Buffer.from(encodeSpiffeBundle(bundle), 'utf8')
    encoded.set(bundle, json)
  }
  return {
    trust_domain: bundle.trustDomain.name,
    spiffe_bundle: json,
    sequence_number: bundle.sequenceNumber,
  }
}

/** A stored (federated) bundle as a wire `Bundle`. */
export function toWireBundleRecord(record: BundleRecord): Bundle {
  return {
    trust_domain: record.trustDomain,
    spiffe_bundle: Buffer.from(record.spiffeBundleJson, 'utf8'),
    sequence_number: record.sequenceNumber,
  }
}

/** The trust-domain name in a `federatesWith` value (stored as a name; tolerate an ID). */
export function federatedTrustDomainName(value: string): string {
  try {
    return TrustDomain.parse(value).name
  } catch {
    return value
  }
}

/** A registration entry as the wire carries it. */
export function toWireEntry(e: RegistrationEntry): WireEntry {
  return {
    id: e.id,
    spiffe_id: e.spiffeId,
    parent_id: e.parentId,
    selectors: e.selectors.map((s) => ({ type: s.type, value: s.value })),
    x509_svid_ttl: e.x509SvidTtl,
    jwt_svid_ttl: e.jwtSvidTtl,
    dns_names: [...e.dnsNames],
    hint: e.hint,
    admin: e.admin,
    node: e.node,
    federates_with: e.federatesWith.map((td) => `spiffe://${federatedTrustDomainName(td)}`),
    revision_number: e.revisionNumber,
    created_at: unixSeconds(e.createdAt),
    task_scopes: [...e.taskScopes],
    max_task_ttl: e.maxTaskTtl,
    revoke_on_exit: e.revokeOnExit,
    owner: e.owner,
    purpose: e.purpose,
    risk: e.risk,
  }
}
