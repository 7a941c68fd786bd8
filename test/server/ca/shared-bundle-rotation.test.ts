// Two CA managers — two servers — on one real SQLite datastore file (two handles), rotating
// tiny-lifetime keys at the same moments (issue 15: "two servers racing to rotate"). Each
// publishes through updateBundle; after every step the stored bundle holds every authority
// either server still holds (prepared ones before they sign), and both managers agree on it.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { decodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { CaManager } from '../../../server/ca/ca-manager.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { FakeClock, RecordingLogger } from './ca-test-kit.js'

const td = TrustDomain.parse('example.org')

t.test('two servers rotating together never lose each other’s authorities', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-shared-ca-'))
  const clock = new FakeClock()
  const path = join(dir, 'datastore.sqlite3')
  const stores = [
    await openDataStore({ kind: 'sqlite', path }, { clock: clock.now }),
    await openDataStore({ kind: 'sqlite', path }, { clock: clock.now }),
  ]
  t.teardown(async () => {
    for (const s of stores) await s.close()
    await rm(dir, { recursive: true, force: true })
  })
  const managers = stores.map(
    (store, i) =>
      new CaManager({
        trustDomain: td,
        dataDir: join(dir, `server-${i}`),
        caTtlSeconds: 60,
        caKeyType: 'ec-p256',
        jwtKeyType: 'ec-p256',
        bundleStore: store,
        refreshHintSeconds: 5,
        clock: clock.now,
        logger: new RecordingLogger(),
      }),
  )
  await Promise.all(managers.map((m) => m.init()))
  let steps = 0
  for (let ms = 0; ms < 200_000; ms += 1000) {
    clock.advance(1000)
    await Promise.all(managers.map((m) => m.rotate()))
    const stored = await stores[0]?.getBundle(td.name)
    if (!stored) throw new Error('no bundle stored')
    const bundle = decodeSpiffeBundle(td, stored.spiffeBundleJson)
    for (const [i, m] of managers.entries()) {
      const held = m.authorities()
      const missingX509 = held.x509.filter((a) => a.certDer && !bundle.hasX509Authority(a.certDer))
      const missingJwt = held.jwt.filter((a) => a.kid && !bundle.findJwtAuthority(a.kid))
      if (missingX509.length + missingJwt.length > 0) {
        t.fail(
          `at +${ms} ms server ${i}'s ${missingX509.length} CA(s) and ${missingJwt.length} JWT key(s) are missing from the stored bundle`,
        )
        return
      }
    }
    steps++
  }
  t.equal(steps, 200, 'every step checked')
  // both managers serve the same bundle once they re-read it
  await Promise.all(managers.map((m) => m.reloadBundle()))
  const [a, b] = managers.map((m) => m.currentBundle())
  t.ok(a && b && a.equals(b), 'both servers see one bundle')
  t.ok((a?.x509Authorities.length ?? 0) >= 2, 'with CAs of both servers')
})
