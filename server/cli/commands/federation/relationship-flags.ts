/**
 * The flags `federation create` and `federation update` share (SPIRE's `-trustDomain`,
 * `-bundleEndpointURL`, `-bundleEndpointProfile`, `-endpointSpiffeID`,
 * `-trustDomainBundlePath`, `-trustDomainBundleFormat`), the request they build, and how a
 * relationship is printed; the `--trust-domain` (or SPIRE's `-id`) of show, delete and refresh;
 * and the one body of create and update.
 */
import type { Jack } from 'jackspeak'
import { EXIT_OK, UsageError } from '../../../../common/cli/cli-io.js'
import { readInput } from '../../../../common/cli/read-input.js'
import type { FederationRelationship__Output as Relationship } from '../../../../proto/generated/sigil/admin/v1/FederationRelationship.js'
import type { FederationRelationshipRequest } from '../../../../proto/generated/sigil/admin/v1/FederationRelationshipRequest.js'
import { type AdminVerbContext, adminVerb, printResult } from '../../admin-verb.js'

/** Largest bootstrap bundle file read. */
const MAX_BUNDLE_FILE_BYTES = 1024 * 1024

/** Adds the relationship flags. */
export function relationshipOptions(j: Jack) {
  return j.opt({
    'trust-domain': { hint: 'name', description: 'The foreign trust domain, e.g. other.org (required)' },
    'bundle-endpoint-url': {
      hint: 'url',
      description: 'https URL of its SPIFFE bundle endpoint (required)',
    },
    'bundle-endpoint-profile': {
      hint: 'profile',
      validOptions: ['https_web', 'https_spiffe'] as const,
      description:
        'https_web: the endpoint has a Web PKI certificate for its host; https_spiffe: it presents the X509-SVID --endpoint-spiffe-id (required)',
    },
    'endpoint-spiffe-id': {
      hint: 'id',
      description:
        'https_spiffe: the SPIFFE ID the endpoint must present, e.g. spiffe://other.org/sigil/server',
    },
    'trust-domain-bundle': {
      hint: 'file',
      description:
        'The trust domain bundle to start from (- for stdin): https_spiffe authenticates the endpoint with it until the first fetch',
    },
    'trust-domain-bundle-format': {
      hint: 'format',
      default: 'pem',
      validOptions: ['pem', 'spiffe'] as const,
      description: 'Format of --trust-domain-bundle: pem (X.509 roots) or spiffe (JWKS)',
    },
  })
}

interface RelationshipValues {
  readonly 'trust-domain'?: string | undefined
  readonly 'bundle-endpoint-url'?: string | undefined
  readonly 'bundle-endpoint-profile'?: string | undefined
  readonly 'endpoint-spiffe-id'?: string | undefined
  readonly 'trust-domain-bundle'?: string | undefined
  readonly 'trust-domain-bundle-format'?: string | undefined
}

/** The admin request of create/update; usage errors for missing flags. */
export async function relationshipRequest(
  v: RelationshipValues,
  ctx: AdminVerbContext,
): Promise<FederationRelationshipRequest> {
  for (const flag of ['trust-domain', 'bundle-endpoint-url', 'bundle-endpoint-profile'] as const) {
    if (!v[flag]) throw new UsageError(`--${flag} is required`)
  }
  const profile = v['bundle-endpoint-profile']
  if (profile === 'https_spiffe' && !v['endpoint-spiffe-id']) {
    throw new UsageError('--endpoint-spiffe-id is required with --bundle-endpoint-profile https_spiffe')
  }
  if (profile === 'https_web' && v['endpoint-spiffe-id']) {
    throw new UsageError('--endpoint-spiffe-id is only for --bundle-endpoint-profile https_spiffe')
  }
  const file = v['trust-domain-bundle']
  const bundle =
    file === undefined
      ? Buffer.alloc(0)
      : Buffer.from(
          await readInput(file, ctx.io.stdin ?? process.stdin, MAX_BUNDLE_FILE_BYTES, 'trust-domain-bundle'),
          'utf8',
        )
  return {
    relationship: {
      trust_domain: v['trust-domain'] ?? '',
      bundle_endpoint_url: v['bundle-endpoint-url'] ?? '',
      bundle_endpoint_profile: profile ?? '',
      endpoint_spiffe_id: v['endpoint-spiffe-id'] ?? '',
    },
    trust_domain_bundle: bundle,
    trust_domain_bundle_format: v['trust-domain-bundle-format'] ?? 'pem',
  }
}

const when = (s: number | string): string =>
  Number(s) === 0 ? '-' : new Date(Number(s) * 1000).toISOString()

/** A relationship as aligned `Name : value` lines (SPIRE's layout). */
export function formatRelationship(r: Relationship): string {
  const rows: [string, string][] = [
    ['Trust domain', r.trust_domain],
    ['Bundle endpoint URL', r.bundle_endpoint_url],
    ['Bundle endpoint profile', r.bundle_endpoint_profile],
    ...(r.endpoint_spiffe_id ? [['Endpoint SPIFFE ID', r.endpoint_spiffe_id] as [string, string]] : []),
    ['Bundle sequence number', String(r.bundle_sequence_number)],
    ['Last refresh', when(r.last_refresh_at)],
    ['Next refresh', when(r.next_refresh_at)],
    ['Last error', r.last_error === '' ? '-' : r.last_error],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, val]) => `${k.padEnd(width)} : ${val}`).join('\n')
}

/** Adds `--trust-domain` and SPIRE's `--id` (show, delete, refresh). */
export function trustDomainOptions(j: Jack) {
  return j.opt({
    'trust-domain': {
      hint: 'name',
      description: 'The foreign trust domain (other.org or spiffe://other.org) (required)',
    },
    id: {
      hint: 'id',
      description: "SPIRE's -id: the trust domain's ID, spiffe://other.org (same as --trust-domain)",
    },
  })
}

/** The trust domain named by `--trust-domain` or `--id`; a usage error when neither is given. */
export function trustDomainOf(v: {
  readonly 'trust-domain'?: string | undefined
  readonly id?: string | undefined
}): string {
  const td = v['trust-domain'] ?? v.id
  if (!td) throw new UsageError('--trust-domain is required')
  return td
}

/** `federation create` and `federation update`: the same flags, request and output. */
export function relationshipVerb(mode: 'create' | 'update') {
  return adminVerb({
    usage: `sigil-server federation ${mode}`,
    description:
      mode === 'create'
        ? 'Creates a federation relationship with a foreign trust domain and fetches its bundle at once (then by its refresh hint).'
        : 'Replaces the bundle endpoint of a federation relationship (and the stored bundle, with --trust-domain-bundle) and fetches at once.',
    options: (j) => relationshipOptions(j),
    run: async (v, ctx) => {
      const req = await relationshipRequest(v, ctx)
      const res = await ctx
        .admin()
        .call(mode === 'create' ? 'CreateFederationRelationship' : 'UpdateFederationRelationship', req)
      const r = res.relationship
      printResult(ctx.io, ctx.format, res, () =>
        r
          ? `Federation relationship ${mode}d (first fetch: ${res.refresh_outcome || 'not made'})\n\n${formatRelationship(r)}`
          : '',
      )
      return EXIT_OK
    },
  })
}
