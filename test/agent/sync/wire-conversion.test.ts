// Sync answers into the cache's state: an entry that did not change since the last sync is the
// same object (not converted and checked again); any change, or a new entry, is converted and
// checked in full.
import t from 'tap'
import type { AuthorizedEntry } from '../../../agent/cache/authorized-state.js'
import { authorizedStateFromWire } from '../../../agent/sync/wire-conversion.js'
import { encodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import type { RegistrationEntry__Output } from '../../../proto/generated/sigil/common/v1/RegistrationEntry.js'
import { createFakeServer } from '../cache/fake-server.js'

function wireEntry(id: string, over: Partial<RegistrationEntry__Output> = {}): RegistrationEntry__Output {
  return {
    id,
    spiffe_id: `spiffe://example.org/${id}`,
    parent_id: 'spiffe://example.org/agent',
    selectors: [{ type: 'unix', value: 'uid:1000' }],
    x509_svid_ttl: 60,
    jwt_svid_ttl: 300,
    dns_names: [],
    hint: '',
    admin: false,
    node: false,
    federates_with: [],
    revision_number: 1,
    created_at: 1_780_000_000,
    task_scopes: [],
    max_task_ttl: 0,
    revoke_on_exit: false,
    owner: '',
    purpose: '',
    risk: '',
    expires_at: 0,
    ...over,
  }
}

t.test('unchanged entries are reused from the previous sync; changed ones are converted again', async (t) => {
  const { bundle } = await createFakeServer()
  const td = TrustDomain.parse('example.org')
  const wireBundle = {
    trust_domain: 'example.org',
    spiffe_bundle: Buffer.from(encodeSpiffeBundle(bundle)),
    sequence_number: 0,
  }
  const answer = (entries: RegistrationEntry__Output[]) =>
    authorizedStateFromWire(
      {
        entries,
        bundle: wireBundle,
        federated_bundles: [],
        entries_digest: '',
        unchanged: false,
        revocations: null,
        crls: [],
        crls_digest: '',
      },
      td,
      undefined,
      previous,
    )
  let previous = new Map<string, AuthorizedEntry>()
  const first = answer([wireEntry('a'), wireEntry('b'), wireEntry('c')])
  previous = new Map(first.entries.map((e) => [e.id, e]))
  const second = answer([
    wireEntry('a'),
    wireEntry('b', { revision_number: 2, selectors: [{ type: 'unix', value: 'uid:1001' }] }),
    wireEntry('c', { hint: 'web' }),
    wireEntry('d'),
  ])
  t.equal(second.entries[0], first.entries[0], 'unchanged: the same object')
  t.not(second.entries[1], first.entries[1], 'changed: converted again')
  t.same(second.entries[1]!.selectors, [{ type: 'unix', value: 'uid:1001' }])
  t.equal(second.entries[2]!.hint, 'web')
  t.equal(second.entries[3]!.spiffeId, 'spiffe://example.org/d')
  t.equal(second.entries[0]!.revokeOnExit, false)
  const third = answer([wireEntry('a', { revoke_on_exit: true })])
  t.not(third.entries[0], second.entries[0], 'revoke_on_exit turned on: converted again')
  t.equal(third.entries[0]!.revokeOnExit, true, 'revoke_on_exit reaches the cache')
  previous = new Map(third.entries.map((e) => [e.id, e]))
  const fourth = answer([
    wireEntry('a', { revoke_on_exit: true, owner: 'ops', purpose: 'batch', risk: 'high' }),
  ])
  t.not(fourth.entries[0], third.entries[0], 'metadata changed: converted again')
  t.match(
    fourth.entries[0],
    { owner: 'ops', purpose: 'batch', risk: 'high' },
    'entry metadata reaches agent-side policy',
  )
  t.throws(() => answer([wireEntry('a', { spiffe_id: 'not a SPIFFE ID' })]), { code: 'ERR_ENTRY_INVALID' })
})
