// The CRL publisher over a real CA and a real SQLite revocation list: the active CA has a CRL
// before it signs anything (so the first Workload API message carries it); a revoked X.509 serial
// rebuilds the CRLs at once (and tells listeners, which push them to every workload stream);
// a revoked JWT jti or task txn does not, since no CRL names it.
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { normalizeSerial, revokedSerials } from '../../../certs/x509svid/crl.js'
import { CaManager } from '../../../server/ca/ca-manager.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { CrlPublisher, type CrlSet } from '../../../server/revocation/crl-publisher.js'
import { RevocationList } from '../../../server/revocation/revocation-list.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { FakeClock, RecordingLogger } from '../ca/ca-test-kit.js'

t.test('only a revoked X.509 serial rebuilds the CRLs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-crl-publisher-'))
  const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000)
  const logger = new RecordingLogger()
  const datastore = await openDataStore(
    { kind: 'sqlite', path: join(dir, 'datastore.sqlite3') },
    { clock: clock.now },
  )
  const ca = new CaManager({
    trustDomain: TrustDomain.parse('example.org'),
    dataDir: dir,
    caTtlSeconds: 86_400,
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: datastore,
    refreshHintSeconds: 60,
    clock: clock.now,
    logger,
  })
  await ca.init()
  const revocations = await RevocationList.load({
    datastore,
    clock: clock.now,
    logger,
    unknownCredentialTtlMs: 3_600_000,
  })
  const crls = new CrlPublisher({ ca, revocations, clock: clock.now, logger })
  const abort = new AbortController()
  const running = crls.run(abort.signal)
  t.teardown(async () => {
    abort.abort()
    await running
    await datastore.close()
    await rm(dir, { recursive: true, force: true })
  })
  await waitUntil(
    'a CRL for the active CA before it has signed anything (workloads get it at once)',
    () => crls.current().crls.length === 1,
    { timeoutMs: 5_000 },
  )
  // the SVID whose serial will be revoked
  const svid = ca.signX509Svid({
    spiffeId: SpiffeId.parse('spiffe://example.org/web'),
    publicKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey,
    ttlSeconds: 3600,
  })
  const built: CrlSet[] = []
  crls.onChange((set) => built.push(set))

  await revocations.revoke({ kind: 'jwt_jti', value: 'jti-1', reason: 'leaked' })
  await revocations.revoke({ kind: 'txn', value: 'task-1', reason: 'task completed' })
  t.equal(built.length, 0, 'a jti or txn revocation leaves the CRLs (and every workload stream) alone')

  const sequence = await revocations.revoke({
    kind: 'x509_serial',
    value: svid.serialHex,
    reason: 'key compromise',
  })
  t.equal(built.length, 1, 'a serial revocation rebuilds the CRLs at once')
  t.equal(built[0]?.sequence, sequence, 'the rebuilt CRLs reflect the revocation')
  const named = revokedSerials(built[0]?.crls ?? [], ca.caCertificateChain(), clock.now())
  t.ok(named.has(normalizeSerial(svid.serialHex)), `and name the serial ${svid.serialHex}: ${[...named]}`)
})
