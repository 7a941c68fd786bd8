// `localauthority taint` on the agent side: which SVIDs a tainted authority signed (X.509 by the
// leaf's authority key ID, JWT by the header's kid), the set replaced as a whole, and the held
// SVIDs made due at once (still served until their successors are installed).
import t from 'tap'
import type { AuthorizedEntry } from '../../../agent/cache/authorized-state.js'
import { HeldSvids } from '../../../agent/cache/held-svids.js'
import { JwtSvidCache } from '../../../agent/cache/jwt-svid-cache.js'
import { TaintedAuthorities } from '../../../agent/cache/tainted-authorities.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { createTestCa } from '../../helpers/testca.js'

const ID = 'spiffe://example.org/w'

function entry(id: string): AuthorizedEntry {
  return {
    id,
    spiffeId: ID,
    parentId: 'spiffe://example.org/node',
    selectors: [],
    dnsNames: [],
    hint: '',
    admin: false,
    federatesWith: [],
    x509SvidTtl: 100,
    jwtSvidTtl: 0,
    revisionNumber: 0,
    createdAt: new Date(0),
  }
}

const jws = (header: object) => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.e30.sig`

t.test('signedLeaf / signedToken name what a tainted authority signed', async (t) => {
  const a = await createTestCa()
  const b = await createTestCa({ withIntermediate: true })
  const leafA = (await a.mintSvid('/w')).chainDer[0]!
  const leafB = (await b.mintSvid('/w')).chainDer[0]!
  const idA = readCertificateFacts(a.signingCertDer).subjectKeyId!.toString('hex')
  const tainted = new TaintedAuthorities()
  let changes = 0
  tainted.onChange(() => changes++)
  t.notOk(tainted.signedLeaf(leafA), 'nothing tainted yet')
  tainted.set([idA.toUpperCase()], ['kid-old'])
  t.equal(changes, 1)
  t.equal(tainted.size, 2)
  t.ok(tainted.signedLeaf(leafA), 'signed by the tainted CA (IDs compared in lowercase)')
  t.notOk(tainted.signedLeaf(leafB), 'another CA (an intermediate) is not')
  t.notOk(tainted.signedLeaf(Buffer.from('garbage')), 'an unreadable leaf is not')
  t.notOk(tainted.signedLeaf(undefined))
  t.ok(tainted.signedToken(jws({ alg: 'ES256', kid: 'kid-old' })))
  t.notOk(tainted.signedToken(jws({ alg: 'ES256', kid: 'kid-new' })))
  t.notOk(tainted.signedToken('not-a-jws'))
  t.notOk(tainted.signedToken(`${Buffer.from('{').toString('base64url')}.x.y`))
  tainted.set([idA], ['kid-old'])
  t.equal(changes, 1, 'the same set again is no change')
  tainted.set([], [])
  t.equal(changes, 2, 'the server sends the set complete: an empty set clears it')
  t.notOk(tainted.signedLeaf(leafA))
})

t.test('expedite makes the picked SVIDs due now and keeps serving them', async (t) => {
  const held = new HeldSvids()
  const draw = { fraction: 0.5, random: () => 0.5 }
  const now = Date.now()
  const svid = (serial: string) => ({
    spiffeId: ID,
    chainDer: [Buffer.from(serial)],
    privateKeyPkcs8Der: Buffer.alloc(0),
    serial,
    issuedAt: new Date(now),
    notAfter: new Date(now + 3_600_000),
  })
  const [e1, e2] = [entry('e1'), entry('e2')]
  held.install([e1, e2], e1, svid('old'), draw)
  held.install([e1, e2], e2, svid('new'), draw)
  t.equal(held.dueEntries([e1, e2], new Date(now + 1000)), undefined, 'nothing due an hour ahead')
  t.equal(
    held.expedite((h) => h.serial === 'old'),
    1,
  )
  t.equal(
    held.expedite((h) => h.serial === 'old'),
    0,
    'already due: not counted twice',
  )
  t.same(
    held.dueEntries([e1, e2], new Date(now + 1000))?.entries.map((e) => e.id),
    ['e1'],
    'the tainted one is due',
  )
  t.equal(held.get('e1')?.serial, 'old', 'and still held (served) until its successor comes')
})

t.test('JwtSvidCache.deleteWhere drops tokens of a tainted kid', async (t) => {
  const cache = new JwtSvidCache(10)
  const item = (token: string) => ({
    processKey: 'p',
    spiffeId: ID,
    token,
    expiresAt: new Date(Date.now() + 60_000),
    renewAt: new Date(Date.now() + 30_000),
    jti: '',
  })
  cache.set('a', item(jws({ kid: 'old' })))
  cache.set('b', item(jws({ kid: 'new' })))
  const tainted = new TaintedAuthorities()
  tainted.set([], ['old'])
  t.equal(
    cache.deleteWhere((i) => tainted.signedToken(i.token)),
    1,
  )
  t.equal(cache.get('a'), undefined)
  t.ok(cache.get('b'))
})
