// What an install was, for sigil_agent_x509_svids_installed_total: the first SVID of an entry
// (or one for a changed entry) is new; a replacement is renewed, or late when it was signed
// after the old SVID had used more than half the time between its planned renewal and expiry.
import t from 'tap'
import type { AuthorizedEntry } from '../../../agent/cache/authorized-state.js'
import { HeldSvids } from '../../../agent/cache/held-svids.js'
import type { SignedX509Svid } from '../../../agent/cache/x509-svid-batcher.js'

const ID = 'spiffe://example.org/w'

function entry(revisionNumber: number): AuthorizedEntry {
  return {
    id: 'e1',
    spiffeId: ID,
    parentId: 'spiffe://example.org/node',
    selectors: [],
    dnsNames: [],
    hint: '',
    admin: false,
    federatesWith: [],
    x509SvidTtl: 100,
    jwtSvidTtl: 0,
    revisionNumber,
    createdAt: new Date(0),
  }
}

/** An SVID signed at `issuedS` living 100 s (times in seconds). */
function svid(issuedS: number, serial: string): SignedX509Svid {
  return {
    spiffeId: ID,
    chainDer: [],
    privateKeyPkcs8Der: Buffer.alloc(0),
    serial,
    issuedAt: new Date(issuedS * 1000),
    notAfter: new Date((issuedS + 100) * 1000),
  }
}

// fraction 0.5 and a mid random draw: renew at half-life (50 s), late after 75 s
const draw = { fraction: 0.5, random: () => 0.5 }

t.test('new, renewed, late; a changed entry is new', async (t) => {
  const held = new HeldSvids()
  const e0 = entry(0)
  const renewAt = () => held.get('e1')?.renewAt.getTime() ?? Number.NaN
  t.equal(held.install([e0], e0, svid(0, 'a'), draw), 'new')
  const first = renewAt()
  t.ok(first > 0 && first < 100_000, 'a planned renewal inside the lifetime')
  t.equal(held.install([e0], e0, svid(first / 1000 + 1, 'b'), draw), 'renewed', 'just after renewAt')
  const second = renewAt()
  const issued = (second / 1000 + (first / 1000 + 1 + 100)) / 2 + 1
  t.equal(held.install([e0], e0, svid(issued, 'c'), draw), 'late', 'past the midpoint to expiry')
  const e1 = entry(1)
  t.equal(held.install([e1], e1, svid(issued + 1, 'd'), draw), 'new', 'the entry changed')
  t.equal(held.install([], e1, svid(issued + 2, 'e'), draw), false, 'no longer wanted')
})
