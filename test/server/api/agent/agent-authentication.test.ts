// Authentication of the mutual-TLS RPCs: no or untrusted client certificate → UNAUTHENTICATED;
// banned, evicted, superseded or non-agent SVIDs → PERMISSION_DENIED; renewal; lastSeen.
import { status } from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { generateKeyPair } from '../../../../certs/keys/keys.js'
import { SpiffeId } from '../../../../certs/spiffeid/spiffe-id.js'
import { createCsr } from '../../../../certs/x509svid/csr.js'
import type { RenewAgentResponse__Output } from '../../../../proto/generated/sigil/agent/v1/RenewAgentResponse.js'
import type { SyncAuthorizedEntriesResponse__Output } from '../../../../proto/generated/sigil/agent/v1/SyncAuthorizedEntriesResponse.js'
import type { AgentAPIClient } from '../../../../proto/loader.js'
import { AgentAuthenticator, TOUCH_INTERVAL_MS } from '../../../../server/api/agent/agent-authenticator.js'
import { createTestCa } from '../../../helpers/testca.js'
import { opensslVerify } from '../../ca/ca-test-kit.js'
import {
  type AgentSvid,
  attestJoinToken,
  attestX509pop,
  createJoinToken,
  sigilCode,
  startKit,
  TD,
  unary,
} from './agent-api-test-kit.js'

const sync = (c: AgentAPIClient) =>
  unary<SyncAuthorizedEntriesResponse__Output>(c, 'SyncAuthorizedEntries', {})

async function expectStatus(t: Test, p: Promise<unknown>, code: status, sigil?: string, name = '') {
  const err = await t.rejects(p, name)
  t.equal((err as { code?: number }).code, code, `${name} → ${status[code]}`)
  if (sigil) t.equal(sigilCode(err as never), sigil, `${name} → ${sigil}`)
}

t.test('no client certificate, or an untrusted one, is UNAUTHENTICATED', async (t) => {
  const kit = await startKit(t)
  await expectStatus(
    t,
    sync(kit.anonClient()),
    status.UNAUTHENTICATED,
    'ERR_SVID_UNTRUSTED',
    'no certificate',
  )
  await expectStatus(
    t,
    unary(kit.anonClient(), 'GetBundle', {}),
    status.UNAUTHENTICATED,
    undefined,
    'GetBundle',
  )
  const foreign = await createTestCa({ trustDomain: 'example.org' })
  const fake = await foreign.mintSvid('/sigil/agent/join_token/forged')
  await expectStatus(
    t,
    sync(kit.agentClient({ chain: [...fake.chainDer], key: fake.privateKey })),
    status.UNAUTHENTICATED,
    undefined,
    'an SVID from a CA outside the bundle',
  )
  await kit.ds.integrityCheck()
})

t.test('a valid SVID that is not a current agent SVID is PERMISSION_DENIED', async (t) => {
  const kit = await startKit(t)
  const { privateKey, publicKey } = await generateKeyPair('ec-p256')
  const workload = kit.ca.signX509Svid({
    spiffeId: SpiffeId.fromPath(TD, '/web'),
    publicKey,
    ttlSeconds: 600,
  })
  await expectStatus(
    t,
    sync(kit.agentClient({ chain: [...workload.chainDer], key: privateKey })),
    status.PERMISSION_DENIED,
    'ERR_NOT_AUTHORIZED',
    'a workload SVID',
  )
  // An SVID with an agent's ID that the server signed but never recorded (not its current one).
  const agent = await attestJoinToken(kit, await createJoinToken(kit))
  const twin = kit.ca.signX509Svid({
    spiffeId: SpiffeId.parse(agent.svid.spiffe_id),
    publicKey,
    ttlSeconds: 600,
  })
  await expectStatus(
    t,
    sync(kit.agentClient({ chain: [...twin.chainDer], key: privateKey })),
    status.PERMISSION_DENIED,
    'ERR_NOT_AUTHORIZED',
    "an SVID of the agent's ID with another serial",
  )
  const ok = await sync(kit.agentClient(agent))
  t.ok(ok.bundle, 'the real agent SVID works')
})

t.test('an expired agent SVID (by the server clock) is UNAUTHENTICATED', async (t) => {
  const kit = await startKit(t, { agentSvidTtlSeconds: 600 })
  const agent = await attestJoinToken(kit, await createJoinToken(kit))
  kit.clock.advance(601_000)
  await expectStatus(t, sync(kit.agentClient(agent)), status.UNAUTHENTICATED, 'ERR_SVID_EXPIRED', 'expired')
})

t.test('a banned agent is refused on every call', async (t) => {
  const kit = await startKit(t)
  const agent = await attestJoinToken(kit, await createJoinToken(kit))
  const client = kit.agentClient(agent)
  t.ok((await sync(client)).bundle, 'works before the ban')
  await kit.ds.banAttestedAgent(agent.svid.spiffe_id)
  await expectStatus(t, sync(client), status.PERMISSION_DENIED, 'ERR_AGENT_BANNED', 'sync')
  const csr = await createCsr(await generateKeyPair('ec-p256'))
  await expectStatus(
    t,
    unary(client, 'RenewAgent', { csr }),
    status.PERMISSION_DENIED,
    'ERR_AGENT_BANNED',
    'renew',
  )
  await expectStatus(
    t,
    unary(client, 'GetBundle', {}),
    status.PERMISSION_DENIED,
    'ERR_AGENT_BANNED',
    'bundle',
  )
})

t.test('an evicted agent is refused, then may attest again', async (t) => {
  const kit = await startKit(t)
  const { svid: first } = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
  const oldClient = kit.agentClient(first)
  t.ok((await sync(oldClient)).bundle)
  await kit.ds.deleteAttestedAgent(first.svid.spiffe_id)
  await expectStatus(t, sync(oldClient), status.PERMISSION_DENIED, 'ERR_NOT_AUTHORIZED', 'evicted')

  const { svid: second } = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
  t.equal(second.svid.spiffe_id, first.svid.spiffe_id, 're-attested under the same ID')
  t.ok((await sync(kit.agentClient(second))).bundle, 'the new SVID works')
  await expectStatus(
    t,
    sync(oldClient),
    status.PERMISSION_DENIED,
    'ERR_NOT_AUTHORIZED',
    'the pre-eviction SVID',
  )
})

t.test('RenewAgent: a new SVID for the same ID; the old one lasts until the new one is used', async (t) => {
  const kit = await startKit(t)
  const agent = await attestJoinToken(kit, await createJoinToken(kit))
  const oldClient = kit.agentClient(agent)
  const keys = await generateKeyPair('ec-p256')
  const res = await unary<RenewAgentResponse__Output>(oldClient, 'RenewAgent', { csr: await createCsr(keys) })
  const svid = res.svid!
  t.equal(svid.spiffe_id, agent.svid.spiffe_id, 'same SPIFFE ID')
  t.not(svid.serial, agent.svid.serial, 'new serial')
  const roots = [...kit.ca.currentBundle().x509Authorities]
  t.ok(opensslVerify({ leaf: svid.cert_chain[0]!, roots, at: kit.clock.now() }).ok, 'renewed SVID verifies')
  const row = await kit.ds.getAttestedAgent(agent.svid.spiffe_id)
  t.equal(row?.serialNumber, svid.serial, 'the agent row has the new serial')
  const records = await kit.ds.listIssuedSvids({ agentId: agent.svid.spiffe_id })
  t.same(records.map((r) => r.serialOrJti).sort(), [agent.svid.serial, svid.serial].sort(), 'both recorded')

  t.ok((await sync(oldClient)).bundle, 'the old SVID still works (lost-response grace)')
  const renewed: AgentSvid = { svid, chain: svid.cert_chain, key: keys.privateKey }
  t.ok((await sync(kit.agentClient(renewed))).bundle, 'the new SVID works')
  await expectStatus(
    t,
    sync(oldClient),
    status.PERMISSION_DENIED,
    'ERR_NOT_AUTHORIZED',
    'old SVID after the new was used',
  )

  await expectStatus(
    t,
    unary(kit.agentClient(renewed), 'RenewAgent', { csr: Buffer.from('nope') }),
    status.INVALID_ARGUMENT,
    'ERR_CSR_INVALID',
    'garbage CSR',
  )
  await kit.ds.integrityCheck()
})

// Several servers on one datastore (issue 15): server A commits a renewal and dies before the
// agent hears the answer; the agent retries on server B with the SVID it still holds. The renewal
// grace lives in the datastore, so B (a fresh authenticator: no memory of A's renewal) accepts
// exactly that previous SVID until the agent first presents its new one (to A or to B); an SVID
// two renewals old is never accepted, and nothing from before an eviction and re-attestation.
t.test(
  'a renewal committed by another server: the previous SVID is accepted until the new one is used',
  async (t) => {
    const kit = await startKit(t)
    const { svid: first } = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
    const renew = async (from: AgentSvid): Promise<AgentSvid> => {
      const keys = await generateKeyPair('ec-p256')
      const res = await unary<RenewAgentResponse__Output>(kit.agentClient(from), 'RenewAgent', {
        csr: await createCsr(keys),
      })
      kit.clock.advance(1000)
      return { svid: res.svid!, chain: res.svid!.cert_chain, key: keys.privateKey }
    }
    const serverB = () =>
      new AgentAuthenticator({
        trustDomain: TD,
        ca: kit.ca,
        datastore: kit.ds,
        clock: kit.clock.now,
        logger: kit.logger,
      })
    const presenting = (a: AgentSvid) => ({
      getAuthContext: () => ({ sslPeerCertificate: { raw: Buffer.from(a.chain[0]!) } }),
    })
    const refusedOnB = (a: AgentSvid, name: string) =>
      t.rejects(serverB().authenticate(presenting(a) as never), { code: 'ERR_NOT_AUTHORIZED' }, name)

    const second = await renew(first)
    const onB = await serverB().authenticate(presenting(first) as never)
    t.equal(onB.serial, first.svid.serial, 'B accepts the SVID the renewal on A replaced')
    t.equal(
      (await serverB().authenticate(presenting(first) as never)).serial,
      first.svid.serial,
      'and again, until the new one is used',
    )
    t.ok((await sync(kit.agentClient(first))).bundle, 'A accepts it too')

    // the agent retries its renewal on B with the previous SVID (A's answer was lost): the SVID it
    // holds stays acceptable, the never-delivered `second` becomes unusable once the newest is used
    const secondOnB = await renew(first)
    t.equal((await kit.ds.getAttestedAgent(first.svid.spiffe_id))?.previousSerialNumber, first.svid.serial)
    t.equal(
      (await serverB().authenticate(presenting(secondOnB) as never)).serial,
      secondOnB.svid.serial,
      'the SVID from the retried renewal works on B',
    )
    await refusedOnB(first, 'the previous SVID is refused on B once the new one was used')
    await expectStatus(
      t,
      sync(kit.agentClient(first)),
      status.PERMISSION_DENIED,
      'ERR_NOT_AUTHORIZED',
      'and on A',
    )
    await refusedOnB(second, 'the SVID of the superseded renewal is refused')

    const third = await renew(secondOnB)
    await refusedOnB(first, 'an SVID two renewals old is refused')
    t.equal(
      (await serverB().authenticate(presenting(secondOnB) as never)).serial,
      secondOnB.svid.serial,
      'the previous SVID is accepted on B after the next renewal on A',
    )
    t.ok((await sync(kit.agentClient(third))).bundle, 'the new SVID used on A')
    await refusedOnB(secondOnB, 'the previous SVID is refused on B once the new one was used on A')
    t.equal(
      (await serverB().authenticate(presenting(third) as never)).serial,
      third.svid.serial,
      'the current one works on B',
    )

    // eviction and re-attestation: nothing from before is acceptable, on any server
    const fourth = await renew(third)
    await kit.ds.deleteAttestedAgent(first.svid.spiffe_id)
    const { svid: again } = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
    t.equal(again.svid.spiffe_id, first.svid.spiffe_id, 're-attested under the same ID')
    await refusedOnB(third, 'the pre-eviction previous SVID is refused on B')
    await refusedOnB(fourth, 'the pre-eviction current SVID is refused on B')
    t.equal((await serverB().authenticate(presenting(again) as never)).serial, again.svid.serial)
    await kit.ds.integrityCheck()
  },
)

t.test('lastSeen is refreshed at most once a minute', async (t) => {
  const kit = await startKit(t)
  const agent = await attestJoinToken(kit, await createJoinToken(kit))
  const client = kit.agentClient(agent)
  const attestedAt = (await kit.ds.getAttestedAgent(agent.svid.spiffe_id))!.lastSeen.getTime()
  kit.clock.advance(5000)
  await sync(client)
  const first = (await kit.ds.getAttestedAgent(agent.svid.spiffe_id))!.lastSeen.getTime()
  t.equal(first, kit.clock.ms, 'first call touches')
  t.ok(first > attestedAt)
  kit.clock.advance(TOUCH_INTERVAL_MS / 2)
  await sync(client)
  t.equal(
    (await kit.ds.getAttestedAgent(agent.svid.spiffe_id))!.lastSeen.getTime(),
    first,
    'not again within a minute',
  )
  kit.clock.advance(TOUCH_INTERVAL_MS)
  await sync(client)
  t.equal(
    (await kit.ds.getAttestedAgent(agent.svid.spiffe_id))!.lastSeen.getTime(),
    kit.clock.ms,
    'again after',
  )
})

t.test('with an upstream CA: intermediate chains are served, and agents authenticate', async (t) => {
  const upstream = await createTestCa({ trustDomain: 'example.org', ttlSeconds: 2 * 86_400 })
  const kit = await startKit(t, { upstream: { certDer: [upstream.rootDer], key: upstream.rootKey } })
  t.same(kit.ca.currentBundle().x509Authorities, [upstream.rootDer], 'the bundle holds the upstream root')
  const agent = await attestJoinToken(kit, await createJoinToken(kit))
  t.equal(agent.chain.length, 2, 'leaf + the server CA (intermediate)')
  const ossl = opensslVerify({
    leaf: agent.chain[0]!,
    roots: [upstream.rootDer],
    intermediates: agent.chain.slice(1),
    at: kit.clock.now(),
  })
  t.ok(ossl.ok, `agent SVID verifies to the upstream root: ${ossl.output}`)
  const res = await sync(kit.agentClient(agent))
  t.same(res.entries, [], 'an agent with an intermediate-signed SVID is authenticated')
  const keys = await generateKeyPair('ec-p256')
  const renewed = await unary<RenewAgentResponse__Output>(kit.agentClient(agent), 'RenewAgent', {
    csr: await createCsr(keys),
  })
  t.equal(renewed.svid?.cert_chain.length, 2)
})
