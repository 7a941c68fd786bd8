// ServerIdentity: the server's own X509-SVID from the real CaManager, renewal at half life
// and on a CA change (pure decision + loop), listeners, and a loop that never throws.
import { createPublicKey, type KeyObject } from 'node:crypto'
import t, { type Test } from 'tap'
import type { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { readCertificateFacts } from '../../../certs/x509svid/certificate-facts.js'
import { verifyX509Svid } from '../../../certs/x509svid/verify-x509-svid.js'
import { CaManager } from '../../../server/ca/ca-manager.js'
import {
  ServerIdentity,
  type ServerIdentityCa,
  type ServerSvid,
  shouldRenewServerSvid,
} from '../../../server/svid/server-identity.js'
import { createTestCa } from '../../helpers/testca.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { FakeClock, MemoryBundleStore, RecordingLogger } from '../ca/ca-test-kit.js'

const td = TrustDomain.parse('example.org')

async function realCa(t: Test) {
  const clock = new FakeClock()
  const logger = new RecordingLogger()
  const ca = new CaManager({
    trustDomain: td,
    dataDir: t.testdir(),
    caTtlSeconds: 86_400,
    caKeyType: 'ec-p256',
    jwtKeyType: 'ec-p256',
    bundleStore: new MemoryBundleStore(clock.now),
    refreshHintSeconds: 60,
    clock: clock.now,
    logger,
  })
  await ca.init()
  return { ca, clock, logger }
}

t.test('shouldRenewServerSvid: half life, or a new active CA', async (t) => {
  const svid = { notBefore: new Date(0), notAfter: new Date(100_000) }
  const ca = Buffer.from('ca-1')
  t.notOk(shouldRenewServerSvid(new Date(49_999), svid, ca, ca))
  t.ok(shouldRenewServerSvid(new Date(50_000), svid, ca, ca), 'at half of the lifetime')
  t.ok(shouldRenewServerSvid(new Date(10), svid, ca, Buffer.from('ca-2')), 'the CA changed')
  t.notOk(shouldRenewServerSvid(new Date(10), svid, ca, undefined), 'no active CA known: keep it')
})

t.test('init mints spiffe://<td>/sigil/server, verifiable against the bundle', async (t) => {
  const { ca, clock, logger } = await realCa(t)
  const identity = new ServerIdentity({ trustDomain: td, ca, clock: clock.now, logger, ttlSeconds: 600 })
  t.throws(() => identity.current(), { code: 'ERR_UNAVAILABLE' }, 'nothing before init')
  await identity.init()
  const svid = identity.current()
  t.equal(svid.spiffeId.toString(), 'spiffe://example.org/sigil/server')
  const v = verifyX509Svid(svid.chainDer, (d) => (d.equals(td) ? ca.x509Authorities() : undefined), {
    now: clock.now(),
  })
  t.equal(v.spiffeId.toString(), 'spiffe://example.org/sigil/server')
  const facts = readCertificateFacts(svid.chainDer[0]!)
  t.ok(
    facts.spkiDer.equals(createPublicKey(svid.privateKey).export({ type: 'spki', format: 'der' })),
    'key fits',
  )
  t.equal(svid.notAfter.getTime() - clock.ms, 600_000, 'requested TTL')
  await identity.init()
  t.equal(identity.current(), svid, 'init twice keeps the SVID')
  t.notOk(identity.needsRenewal())
  t.notMatch(logger.text(), /PRIVATE KEY/, 'no key in the logs')
})

t.test('renewal at half life gives a new key and tells the listeners', async (t) => {
  const { ca, clock, logger } = await realCa(t)
  const identity = new ServerIdentity({ trustDomain: td, ca, clock: clock.now, logger, ttlSeconds: 600 })
  await identity.init()
  const first = identity.current()
  const seen: ServerSvid[] = []
  const off = identity.onChange((s) => seen.push(s))
  identity.onChange(() => {
    throw new Error('a broken listener')
  })
  // Lifetime 610 s (NotBefore is backdated 10 s), so half of it is reached 295 s after minting.
  clock.advance(294_000)
  t.notOk(identity.needsRenewal(), 'not yet')
  clock.advance(1_000)
  t.ok(identity.needsRenewal(), 'past half of the lifetime')
  await Promise.all([identity.renew(), identity.renew()])
  t.equal(seen.length, 1, 'concurrent renewals mint once; the listener hears it once')
  const second = identity.current()
  t.equal(seen[0], second)
  t.not(second.serialHex, first.serialHex)
  t.notOk(second.privateKey.equals(first.privateKey), 'a fresh key')
  t.match(logger.text(), /server SVID listener failed/, 'a throwing listener is logged, not fatal')
  off()
  await identity.renew()
  t.equal(seen.length, 1, 'unsubscribed')
})

/** A CA double whose active certificate can be swapped, and which can fail on demand. */
async function swappableCa(): Promise<ServerIdentityCa & { swap(): Promise<void>; failing: boolean }> {
  let testCa = await createTestCa()
  return {
    failing: false,
    async swap() {
      testCa = await createTestCa()
    },
    caCertificateChain: () => [testCa.signingCertDer],
    signX509Svid(
      this: { failing: boolean },
      req: { spiffeId: SpiffeId; publicKey: KeyObject; ttlSeconds: number },
    ) {
      if (this.failing) throw new Error('CA is down')
      return testCa.minter.mint(req)
    },
  }
}

t.test('a new active CA triggers renewal; the loop renews and never throws', async (t) => {
  const ca = await swappableCa()
  const logger = new RecordingLogger()
  const identity = new ServerIdentity({
    trustDomain: td,
    ca,
    clock: () => new Date(),
    logger,
    checkIntervalMs: 5,
  })
  await identity.init()
  const first = identity.current()
  t.notOk(identity.needsRenewal())
  await ca.swap()
  t.ok(identity.needsRenewal(), 'the active CA changed')

  ca.failing = true
  const controller = new AbortController()
  const loop = identity.run(controller.signal)
  await waitUntil('two failed renewals', () => identity.health().consecutiveFailures >= 2, { intervalMs: 5 })
  t.equal(identity.current(), first, 'the old SVID stays while renewal fails')
  t.match(logger.text(), /server SVID renewal failed/)
  ca.failing = false
  const renewed = new Promise<ServerSvid>((resolve) => identity.onChange(resolve))
  const svid = await renewed
  t.not(svid.serialHex, first.serialHex, 'renewed by the loop once the CA works again')
  controller.abort()
  await t.resolves(loop, 'the loop ends on abort without throwing')
})
