/**
 * Admin handlers for `federation create|update|list|show|delete|refresh` and for the federated
 * bundles, `bundle list|set|delete|count` (issue 16 items 3 and 4). The fetching itself lives in
 * `server/federation/`; this file validates requests and turns records into wire messages.
 *
 * Trust: the caller is an operator, but the bundles and URLs it hands in are still checked for
 * form: a foreign trust domain only (our own bundle is the CA's), an https URL, an endpoint
 * SPIFFE ID exactly when the profile is https_spiffe, and a bundle that decodes, holds a key
 * and whose CAs name no other trust domain.
 */
import { decodePemBundle } from '../../../certs/bundle/pem-bundle.js'
import { decodeSpiffeBundle, encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../../certs/errors.js'
import { echo } from '../../../certs/lib/echo.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import type { FederationRelationship__Output as RelationshipMessage } from '../../../proto/generated/sigil/admin/v1/FederationRelationship.js'
import type { FederationRelationshipRequest__Output as RelationshipRequest } from '../../../proto/generated/sigil/admin/v1/FederationRelationshipRequest.js'
import type { AdminAPIHandlers } from '../../../proto/loader.js'
import type {
  BundleRecord,
  FederationRelationship,
  FederationRelationshipInput,
} from '../../datastore/records.js'
import { checkFederatedBundle } from '../../federation/accept-federated-bundle.js'
import type { AdminApiDeps } from './admin-api-deps.js'
import { unary } from './unary.js'

/** Longest bundle endpoint URL accepted. */
const MAX_URL_BYTES = 2048
/** Largest bundle an operator may hand in (the refresher's cap for fetched ones is the same). */
const MAX_BUNDLE_BYTES = 1024 * 1024

const seconds = (d: Date | undefined): number => (d === undefined ? 0 : Math.floor(d.getTime() / 1000))

const invalid = (message: string): never => {
  throw new SigilError('ERR_INVALID_ARGUMENT', message)
}

/** A foreign trust domain from `other.org` or `spiffe://other.org`; never our own. */
export function foreignTrustDomain(value: string, own: TrustDomain, field = 'trust_domain'): TrustDomain {
  if (value === '') invalid(`${field} is required`)
  let td: TrustDomain
  if (value.startsWith('spiffe://')) {
    const id = SpiffeId.parse(value)
    if (!id.isTrustDomainId()) invalid(`${field} "${echo(value)}" must be a trust domain ID (no path)`)
    td = id.trustDomain
  } else td = TrustDomain.parse(value)
  if (td.equals(own)) {
    invalid(`${field} must name a foreign trust domain, not the server's own "${own.name}"`)
  }
  return td
}

/** Decodes an operator's bundle for `td` (`pem` or `spiffe`) and applies the federation checks. */
export function decodeOperatorBundle(td: TrustDomain, data: Uint8Array, format: string): TrustBundle {
  if (data.length === 0) invalid('the bundle is empty')
  if (data.length > MAX_BUNDLE_BYTES) invalid(`the bundle is larger than ${MAX_BUNDLE_BYTES} bytes`)
  const f = format === '' ? 'pem' : format
  if (f !== 'pem' && f !== 'spiffe') invalid(`format must be pem or spiffe, not "${echo(format)}"`)
  const bundle = f === 'pem' ? decodePemBundle(td, data) : decodeSpiffeBundle(td, data)
  return checkFederatedBundle(bundle)
}

function relationshipInput(req: RelationshipRequest, own: TrustDomain): FederationRelationshipInput {
  const r = req.relationship
  if (r === null || r === undefined) return invalid('relationship is required')
  const td = foreignTrustDomain(r.trust_domain, own)
  const url = r.bundle_endpoint_url
  if (url === '') invalid('bundle_endpoint_url is required')
  if (Buffer.byteLength(url) > MAX_URL_BYTES)
    invalid(`bundle_endpoint_url is longer than ${MAX_URL_BYTES} bytes`)
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    invalid(`bundle_endpoint_url "${echo(url)}" is not a URL`)
  }
  if (parsed?.protocol !== 'https:') invalid(`bundle_endpoint_url must be an https URL, not "${echo(url)}"`)
  if (parsed?.username || parsed?.password) invalid('bundle_endpoint_url must not carry credentials')
  const profile = r.bundle_endpoint_profile
  if (profile !== 'https_web' && profile !== 'https_spiffe') {
    return invalid(`bundle_endpoint_profile must be https_web or https_spiffe, not "${echo(profile)}"`)
  }
  let endpointSpiffeId = ''
  if (profile === 'https_spiffe') {
    if (r.endpoint_spiffe_id === '') invalid('endpoint_spiffe_id is required for the https_spiffe profile')
    const id = SpiffeId.parse(r.endpoint_spiffe_id)
    if (id.isTrustDomainId()) invalid('endpoint_spiffe_id must be a workload SPIFFE ID (with a path)')
    endpointSpiffeId = id.toString()
  } else if (r.endpoint_spiffe_id !== '') {
    invalid('endpoint_spiffe_id is only for the https_spiffe profile')
  }
  return {
    trustDomain: td.name,
    bundleEndpointUrl: parsed?.href ?? url,
    bundleEndpointProfile: profile,
    endpointSpiffeId,
  }
}

/** The wire form of a relationship, with the sequence number of its stored bundle. */
export function relationshipToMessage(
  r: FederationRelationship,
  bundle: BundleRecord | undefined,
): RelationshipMessage {
  return {
    trust_domain: r.trustDomain,
    bundle_endpoint_url: r.bundleEndpointUrl,
    bundle_endpoint_profile: r.bundleEndpointProfile,
    endpoint_spiffe_id: r.endpointSpiffeId,
    created_at: seconds(r.createdAt),
    last_refresh_at: seconds(r.lastRefreshAt),
    next_refresh_at: seconds(r.nextRefreshAt),
    last_error: r.lastError,
    bundle_sequence_number: bundle?.sequenceNumber ?? 0,
  }
}

type FederationHandlers = Pick<
  AdminAPIHandlers,
  | 'CreateFederationRelationship'
  | 'UpdateFederationRelationship'
  | 'ListFederationRelationships'
  | 'GetFederationRelationship'
  | 'DeleteFederationRelationship'
  | 'RefreshFederatedBundle'
  | 'ListFederatedBundles'
  | 'SetFederatedBundle'
  | 'DeleteFederatedBundle'
  | 'CountFederatedBundles'
>

/** The handlers for `federation …` and `bundle list|set|delete|count`. */
export function federationHandlers(deps: AdminApiDeps): FederationHandlers {
  const { datastore: ds, trustDomain: own, logger } = deps
  const refresher = () => {
    if (deps.federation === undefined) {
      throw new SigilError('ERR_UNAVAILABLE', 'this server does not refresh federated bundles')
    }
    return deps.federation
  }
  const message = async (r: FederationRelationship) =>
    relationshipToMessage(r, await ds.getBundle(r.trustDomain))
  const foreignBundles = async () => (await ds.listBundles()).filter((b) => b.trustDomain !== own.name)

  /** Stores a bootstrap bundle given with create/update (an operator override). */
  const bootstrap = async (td: TrustDomain, req: RelationshipRequest) => {
    if (req.trust_domain_bundle.length === 0) return
    const bundle = decodeOperatorBundle(td, req.trust_domain_bundle, req.trust_domain_bundle_format)
    await ds.setBundle(td.name, {
      spiffeBundleJson: encodeSpiffeBundle(bundle),
      sequenceNumber: bundle.sequenceNumber,
    })
  }

  /** Create and update: store, bootstrap, fetch once now. */
  const save = (mode: 'create' | 'update') => async (req: RelationshipRequest) => {
    const input = relationshipInput(req, own)
    const td = TrustDomain.parse(input.trustDomain)
    if (req.trust_domain_bundle.length > 0) {
      decodeOperatorBundle(td, req.trust_domain_bundle, req.trust_domain_bundle_format) // refuse before storing
    }
    const r =
      mode === 'create'
        ? await ds.createFederationRelationship(input, deps.clock())
        : await ds.updateFederationRelationship(input, deps.clock())
    await bootstrap(td, req)
    logger.info(
      {
        trust_domain: r.trustDomain,
        url: r.bundleEndpointUrl,
        profile: r.bundleEndpointProfile,
        endpoint_spiffe_id: r.endpointSpiffeId,
      },
      `federation relationship ${mode === 'create' ? 'created' : 'updated'}`,
    )
    const outcome =
      deps.federation === undefined ? '' : (await deps.federation.refresh(r.trustDomain)).outcome
    const now = await ds.getFederationRelationship(r.trustDomain)
    return { relationship: await message(now ?? r), refresh_outcome: outcome }
  }

  return {
    CreateFederationRelationship: unary('CreateFederationRelationship', logger, save('create')),
    UpdateFederationRelationship: unary('UpdateFederationRelationship', logger, save('update')),
    ListFederationRelationships: unary('ListFederationRelationships', logger, async () => ({
      relationships: await Promise.all((await ds.listFederationRelationships()).map(message)),
    })),
    GetFederationRelationship: unary('GetFederationRelationship', logger, async (req) => {
      const td = foreignTrustDomain(req.trust_domain, own)
      const r = await ds.getFederationRelationship(td.name)
      if (r === undefined) throw new SigilError('ERR_NOT_FOUND', `no federation relationship with ${td.name}`)
      return { relationship: await message(r), refresh_outcome: '' }
    }),
    DeleteFederationRelationship: unary('DeleteFederationRelationship', logger, async (req) => {
      const td = foreignTrustDomain(req.trust_domain, own)
      await ds.deleteFederationRelationship(td.name)
      logger.info({ trust_domain: td.name }, 'federation relationship deleted')
      return {}
    }),
    RefreshFederatedBundle: unary('RefreshFederatedBundle', logger, async (req) => {
      const td = foreignTrustDomain(req.trust_domain, own)
      const result = await refresher().refresh(td.name)
      const r = await ds.getFederationRelationship(td.name)
      return {
        outcome: result.outcome,
        error: result.error,
        relationship: r === undefined ? null : await message(r),
      }
    }),
    ListFederatedBundles: unary('ListFederatedBundles', logger, async (req) => {
      const only = req.trust_domain === '' ? undefined : foreignTrustDomain(req.trust_domain, own).name
      const bundles = (await foreignBundles()).filter((b) => only === undefined || b.trustDomain === only)
      if (only !== undefined && bundles.length === 0)
        throw new SigilError('ERR_NOT_FOUND', `no bundle for ${only}`)
      return {
        bundles: bundles.map((b) => ({
          trust_domain: b.trustDomain,
          spiffe_bundle: Buffer.from(b.spiffeBundleJson, 'utf8'),
          sequence_number: b.sequenceNumber,
        })),
      }
    }),
    SetFederatedBundle: unary('SetFederatedBundle', logger, async (req) => {
      const td = foreignTrustDomain(req.trust_domain, own)
      const bundle = decodeOperatorBundle(td, req.data, req.format)
      const stored = await ds.setBundle(td.name, {
        spiffeBundleJson: encodeSpiffeBundle(bundle),
        sequenceNumber: bundle.sequenceNumber,
      })
      logger.info({ trust_domain: td.name, sequence_number: stored.sequenceNumber }, 'federated bundle set')
      return {
        bundle: {
          trust_domain: stored.trustDomain,
          spiffe_bundle: Buffer.from(stored.spiffeBundleJson, 'utf8'),
          sequence_number: stored.sequenceNumber,
        },
      }
    }),
    DeleteFederatedBundle: unary('DeleteFederatedBundle', logger, async (req) => {
      const td = foreignTrustDomain(req.trust_domain, own)
      if ((await ds.getBundle(td.name)) === undefined)
        throw new SigilError('ERR_NOT_FOUND', `no bundle for ${td.name}`)
      if ((await ds.getFederationRelationship(td.name)) !== undefined) {
        invalid(
          `a federation relationship keeps fetching the bundle of ${td.name}: federation delete it first`,
        )
      }
      const users = (await ds.listEntries()).filter((e) => e.federatesWith.includes(td.name))
      if (users.length > 0) {
        invalid(
          `${users.length} entr${users.length === 1 ? 'y federates' : 'ies federate'} with ${td.name} (e.g. ${users[0]?.id}): remove it from their federates_with first`,
        )
      }
      await ds.deleteBundle(td.name)
      logger.info({ trust_domain: td.name }, 'federated bundle deleted')
      return {}
    }),
    CountFederatedBundles: unary('CountFederatedBundles', logger, async () => ({
      count: (await foreignBundles()).length,
    })),
  }
}
