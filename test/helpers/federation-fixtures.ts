// Fixtures of the federation tests: a SPIFFE bundle document (a test CA's root plus a fresh
// JWT key, with the given sequence number and refresh hint, labelled with any trust domain) and
// the arguments of `sigil-server federation create`.
import { encodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { generateKeyPair } from '../../certs/keys/keys.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import type { TestCa } from './testca.js'

/**
 * The JSON of a bundle holding `ca`'s root and one new JWT key (`kid` = `k<seq>`).
 *
 * @example
 * const doc = await spiffeBundleDoc(otherCa, 5)             // other.org's bundle, sequence 5
 * const lie = await spiffeBundleDoc(thirdCa, 9, { trustDomain: otherTd }) // third.org's CA as other.org's
 */
export async function spiffeBundleDoc(
  ca: TestCa,
  sequenceNumber: number,
  opts: { trustDomain?: TrustDomain; refreshHintSeconds?: number } = {},
): Promise<string> {
  const k = await generateKeyPair('ec-p256')
  return encodeSpiffeBundle(
    TrustBundle.create({
      trustDomain: opts.trustDomain ?? ca.trustDomain,
      x509Authorities: [ca.rootDer],
      jwtAuthorities: [{ kid: `k${sequenceNumber}`, publicKey: k.publicKey }],
      sequenceNumber,
      ...(opts.refreshHintSeconds ? { refreshHintSeconds: opts.refreshHintSeconds } : {}),
    }),
  )
}

/**
 * `federation create` arguments: trust domain, endpoint URL, profile, then any other flags.
 *
 * @example
 * await server.cli(...federationCreateArgs('other.org', url, 'https_web'), '--output', 'json')
 */
export function federationCreateArgs(
  td: string,
  endpointUrl: string,
  profile: string,
  ...more: string[]
): string[] {
  return [
    'federation',
    'create',
    '--trust-domain',
    td,
    '--bundle-endpoint-url',
    endpointUrl,
    '--bundle-endpoint-profile',
    profile,
    ...more,
  ]
}
