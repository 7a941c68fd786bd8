// BundleMemo: a bundle byte-for-byte equal to the last sync's is not decoded again (the same
// TrustBundle object comes back); any change in bytes, sequence or trust domain decodes afresh,
// and a bad bundle is still refused.
import t from 'tap'
import { BundleMemo } from '../../../agent/sync/bundle-memo.js'
import { encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import type { Bundle__Output } from '../../../proto/generated/sigil/common/v1/Bundle.js'
import { createTestCa } from '../../helpers/testca.js'

const td = TrustDomain.parse('example.org')
const other = TrustDomain.parse('other.org')

async function wire(trustDomain: TrustDomain, sequence: number): Promise<Bundle__Output> {
  const ca = await createTestCa({ trustDomain: trustDomain.name })
  const bundle = TrustBundle.create({ trustDomain, x509Authorities: [ca.rootDer], sequenceNumber: sequence })
  return {
    trust_domain: trustDomain.name,
    spiffe_bundle: Buffer.from(encodeSpiffeBundle(bundle)),
    sequence_number: sequence,
  }
}

t.test('the same bytes give the same object; changed bytes or sequence decode again', async (t) => {
  const memo = new BundleMemo()
  const a = await wire(td, 1)
  const first = memo.decode(a, td)
  memo.endRound()
  const copy = { ...a, spiffe_bundle: Buffer.from(a.spiffe_bundle) }
  t.equal(memo.decode(copy, td), first, 'equal bytes: the remembered bundle')
  memo.endRound()
  const bumped = memo.decode({ ...a, sequence_number: 2 }, td)
  t.not(bumped, first, 'another sequence number: decoded again')
  t.equal(bumped.sequenceNumber, 2)
  memo.endRound()
  const b = await wire(td, 2)
  const changed = memo.decode(b, td)
  t.not(changed, bumped, 'other bytes: decoded again')
  t.notSame(changed.x509Authorities, first.x509Authorities)
})

t.test('trust domains are remembered side by side and forgotten when no longer sent', async (t) => {
  const memo = new BundleMemo()
  const own = await wire(td, 1)
  const fed = await wire(other, 1)
  const ownBundle = memo.decode(own, td)
  const fedBundle = memo.decode(fed)
  memo.endRound()
  t.equal(memo.decode(own, td), ownBundle)
  t.equal(memo.decode(fed), fedBundle)
  memo.endRound()
  t.equal(memo.decode(own, td), ownBundle)
  memo.endRound() // `fed` was not sent in this round
  t.not(memo.decode(fed), fedBundle, 'a trust domain missing from a round is forgotten')
})

t.test('checks still apply to remembered bundles', async (t) => {
  const memo = new BundleMemo()
  const fed = await wire(other, 1)
  memo.decode(fed)
  memo.endRound()
  t.throws(() => memo.decode(fed, td), { code: 'ERR_TRUST_DOMAIN_MISMATCH' }, 'expected trust domain')
  t.throws(() => memo.decode(undefined, td), { code: 'ERR_BUNDLE_INVALID' })
  t.throws(
    () => memo.decode({ ...fed, spiffe_bundle: Buffer.from('{') }),
    { code: 'ERR_BUNDLE_INVALID' },
    'changed bytes that do not parse',
  )
})
