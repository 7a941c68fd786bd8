// AttestAgent over real gRPC/TLS with the real SQLite store and CA: join tokens (once, never
// twice; expired; alias), x509pop (happy path, wrong key, untrusted chain), banned agents,
// and malformed streams (clear status, server keeps serving, datastore consistent).
import { createHash } from 'node:crypto'
import { status } from '@grpc/grpc-js'
import t, { type Test } from 'tap'
import { decodeSpiffeBundle } from '../../../../certs/bundle/spiffe-bundle-json.js'
import { generateKeyPair } from '../../../../certs/keys/keys.js'
import { formatSelector } from '../../../../certs/selector/selector.js'
import { signX509popChallenge } from '../../../../certs/x509pop/x509pop-proof.js'
import { createCsr } from '../../../../certs/x509svid/csr.js'
import { opensslVerify } from '../../ca/ca-test-kit.js'
import {
  attestJoinToken,
  attestX509pop,
  createJoinToken,
  type Kit,
  makeX509popPki,
  runAttest,
  sigilCode,
  startKit,
  TD,
} from './agent-api-test-kit.js'

async function snapshot(kit: Kit) {
  return {
    agents: await kit.ds.listAttestedAgents(),
    svids: await kit.ds.listIssuedSvids(),
  }
}

/** After a refused or malformed call: the server still serves and the store is consistent. */
async function stillServing(t: Test, kit: Kit) {
  const token = await createJoinToken(kit)
  const agent = await attestJoinToken(kit, token)
  t.match(agent.svid.spiffe_id, /\/sigil\/agent\/join_token\//, 'a follow-up attestation succeeds')
  await kit.ds.integrityCheck()
}

t.test('a join token works once and never twice', async (t) => {
  const kit = await startKit(t)
  const token = await createJoinToken(kit)
  const agent = await attestJoinToken(kit, token)
  const id = `spiffe://example.org/sigil/agent/join_token/${token}`
  t.equal(agent.svid.spiffe_id, id)
  t.equal(agent.chain.length, 1, 'self-signed CA: the chain is the leaf')
  const roots = kit.ca.currentBundle().x509Authorities
  const ossl = opensslVerify({ leaf: agent.chain[0]!, roots: [...roots], at: kit.clock.now() })
  t.ok(ossl.ok, `agent SVID passes openssl verify: ${ossl.output}`)

  const row = await kit.ds.getAttestedAgent(id)
  t.equal(row?.serialNumber, agent.svid.serial, 'the agent row records the SVID serial')
  t.equal(row?.attestationType, 'join_token')
  t.same(row?.selectors, [], 'join tokens give no selectors')
  const records = await kit.ds.listIssuedSvids({ agentId: id })
  t.equal(records.length, 1, 'the agent SVID is in the issuance record')
  t.equal(records[0]?.serialOrJti, agent.svid.serial)
  t.equal(records[0]?.entryId, '')
  t.notOk(kit.logger.text().includes(createHash('sha256').update(token).digest('hex')), 'hash not logged')

  const before = await snapshot(kit)
  const err = await t.rejects(attestJoinToken(kit, token))
  t.equal((err as { code?: number }).code, status.PERMISSION_DENIED)
  t.equal(sigilCode(err as never), 'ERR_TOKEN_USED')
  t.same(await snapshot(kit), before, 'the second attempt changed nothing')
  await kit.ds.integrityCheck()
})

t.test('the result carries the current bundle', async (t) => {
  const kit = await startKit(t)
  const keys = await generateKeyPair('ec-p256')
  const msgs = await runAttest(kit.anonClient(), [
    {
      params: {
        type: 'join_token',
        payload: Buffer.from(await createJoinToken(kit)),
        csr: await createCsr(keys),
      },
    },
  ])
  t.equal(msgs.length, 1, 'join_token: one message, the result')
  const bundle = msgs[0]?.result?.bundle
  t.equal(bundle?.trust_domain, 'example.org')
  t.equal(bundle?.sequence_number, kit.ca.currentBundle().sequenceNumber)
  const decoded = decodeSpiffeBundle(TD, bundle!.spiffe_bundle)
  t.same(decoded.x509Authorities, kit.ca.currentBundle().x509Authorities)
})

t.test('a token alias becomes the agent ID', async (t) => {
  const kit = await startKit(t)
  const token = await createJoinToken(kit, { alias: 'spiffe://example.org/nodes/rack-1' })
  const agent = await attestJoinToken(kit, token)
  t.equal(agent.svid.spiffe_id, 'spiffe://example.org/nodes/rack-1')
  t.ok(await kit.ds.getAttestedAgent('spiffe://example.org/nodes/rack-1'))
})

t.test('an expired or unknown token is refused', async (t) => {
  const kit = await startKit(t)
  const token = await createJoinToken(kit, { ttlSeconds: 60 })
  kit.clock.advance(61_000)
  const err = await t.rejects(attestJoinToken(kit, token))
  t.equal((err as { code?: number }).code, status.PERMISSION_DENIED)
  t.equal(sigilCode(err as never), 'ERR_TOKEN_EXPIRED')
  const unknown = await t.rejects(attestJoinToken(kit, 'never-issued'))
  t.equal(sigilCode(unknown as never), 'ERR_TOKEN_INVALID')
  t.same(await kit.ds.listAttestedAgents(), [], 'no agent recorded')
  await stillServing(t, kit)
})

t.test('x509pop: proof of possession gives a fingerprint ID and node selectors', async (t) => {
  const kit = await startKit(t)
  const { svid, challenges } = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
  t.equal(challenges, 1, 'one challenge round trip')
  const fp = createHash('sha256').update(kit.pki.leafDer).digest('hex')
  t.equal(svid.svid.spiffe_id, `spiffe://example.org/sigil/agent/x509pop/${fp}`)
  const row = await kit.ds.getAttestedAgent(svid.svid.spiffe_id)
  t.equal(row?.attestationType, 'x509pop')
  const sels = row?.selectors.map(formatSelector) ?? []
  t.ok(sels.includes('x509pop:subject:cn:node-1'), 'CN selector')
  t.ok(sels.includes('x509pop:san:dns:node-1.nodes.example.org'), 'DNS SAN selector')
  const caFp = createHash('sha256').update(kit.pki.caDer).digest('hex')
  t.ok(sels.includes(`x509pop:ca:fingerprint:${caFp}`), 'CA fingerprint selector')

  // The same certificate attests again (agent restart): same ID, new serial.
  const again = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
  t.equal(again.svid.svid.spiffe_id, svid.svid.spiffe_id)
  t.not(again.svid.svid.serial, svid.svid.serial)
  t.equal((await kit.ds.getAttestedAgent(svid.svid.spiffe_id))?.serialNumber, again.svid.svid.serial)
})

t.test('x509pop: a wrong key or an untrusted certificate is refused', async (t) => {
  const kit = await startKit(t)
  const other = await generateKeyPair('ec-p256')
  const wrongKey = await t.rejects(attestX509pop(kit, [kit.pki.leafDer], other.privateKey))
  t.equal((wrongKey as { code?: number }).code, status.PERMISSION_DENIED, 'signature by another key')
  t.equal(sigilCode(wrongKey as never), 'ERR_ATTESTATION_FAILED')

  const rogue = makeX509popPki(kit.dir, 'node-1')
  let challenged = false
  const keys = await generateKeyPair('ec-p256')
  const untrusted = await t.rejects(
    runAttest(
      kit.anonClient(),
      [{ params: { type: 'x509pop', payload: rogue.leafDer, csr: await createCsr(keys) } }],
      (c) => {
        challenged = true
        return [{ challenge_response: signX509popChallenge(rogue.leafKey, c) }]
      },
    ),
  )
  t.equal((untrusted as { code?: number }).code, status.PERMISSION_DENIED, 'not chaining to the x509pop CA')
  t.notOk(challenged, 'no challenge for an untrusted certificate')
  t.same(await kit.ds.listAttestedAgents(), [], 'nothing recorded')
  await stillServing(t, kit)
})

t.test('x509pop with an intermediate in the presented chain', async (t) => {
  const kit = await startKit(t, {
    x509popPki: (dir) => makeX509popPki(dir, 'node-2', { intermediate: true }),
  })
  const { leafDer, leafKey, intermediateDer, caDer } = kit.pki
  const { svid } = await attestX509pop(kit, [leafDer, intermediateDer!], leafKey)
  const sels = (await kit.ds.getAttestedAgent(svid.svid.spiffe_id))?.selectors.map(formatSelector) ?? []
  for (const der of [intermediateDer!, caDer]) {
    const fp = createHash('sha256').update(der).digest('hex')
    t.ok(sels.includes(`x509pop:ca:fingerprint:${fp}`), 'a fingerprint selector per CA on the path')
  }
  const err = await t.rejects(attestX509pop(kit, [leafDer], leafKey))
  t.equal((err as { code?: number }).code, status.PERMISSION_DENIED, 'without the intermediate: no path')
})

t.test('a banned agent cannot attest again; an evicted one can', async (t) => {
  const kit = await startKit(t)
  const first = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
  const id = first.svid.svid.spiffe_id
  await kit.ds.deleteAttestedAgent(id)
  const back = await attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey)
  t.equal(back.svid.svid.spiffe_id, id, 'evicted agent re-attests')

  await kit.ds.banAttestedAgent(id)
  const before = await snapshot(kit)
  const err = await t.rejects(attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey))
  t.equal((err as { code?: number }).code, status.PERMISSION_DENIED)
  t.equal(sigilCode(err as never), 'ERR_AGENT_BANNED')
  t.same(await snapshot(kit), before, 'nothing signed or changed for a banned agent')
  t.equal((await kit.ds.getAttestedAgent(id))?.banned, true)

  // A join token whose alias is the banned ID is refused too.
  const token = await createJoinToken(kit, { alias: id })
  const viaToken = await t.rejects(attestJoinToken(kit, token))
  t.equal(sigilCode(viaToken as never), 'ERR_AGENT_BANNED')
  await kit.ds.integrityCheck()
})

t.test('malformed streams get INVALID_ARGUMENT and the server keeps serving', async (t) => {
  const kit = await startKit(t)
  const keys = await generateKeyPair('ec-p256')
  const csr = await createCsr(keys)
  const token = await createJoinToken(kit)
  const cases: { name: string; run: () => Promise<unknown>; code?: string }[] = [
    {
      name: 'no params, the stream just ends',
      run: () => runAttest(kit.anonClient(), [], undefined, { halfClose: true }),
    },
    {
      name: 'a challenge response first',
      run: () => runAttest(kit.anonClient(), [{ challenge_response: Buffer.from('hi') }]),
    },
    {
      name: 'an unknown attestation type',
      run: () =>
        runAttest(kit.anonClient(), [{ params: { type: 'aws_iid', payload: Buffer.from('x'), csr } }]),
    },
    {
      name: 'a garbage CSR (the token is not spent)',
      code: 'ERR_CSR_INVALID',
      run: () =>
        runAttest(kit.anonClient(), [
          { params: { type: 'join_token', payload: Buffer.from(token), csr: Buffer.from('not a csr') } },
        ]),
    },
    {
      name: 'an empty CSR',
      code: 'ERR_CSR_INVALID',
      run: () =>
        runAttest(kit.anonClient(), [{ params: { type: 'join_token', payload: Buffer.from(token) } }]),
    },
    {
      name: 'x509pop payload that is not a certificate',
      code: 'ERR_CERT_INVALID',
      run: () =>
        runAttest(kit.anonClient(), [
          { params: { type: 'x509pop', payload: Buffer.from([0x30, 0x82, 1]), csr } },
        ]),
    },
    {
      name: 'params twice',
      run: () =>
        runAttest(kit.anonClient(), [
          { params: { type: 'x509pop', payload: kit.pki.leafDer, csr } },
          { params: { type: 'x509pop', payload: kit.pki.leafDer, csr } },
        ]),
    },
    {
      name: 'params again instead of the challenge response',
      run: () =>
        runAttest(kit.anonClient(), [{ params: { type: 'x509pop', payload: kit.pki.leafDer, csr } }], () => [
          { params: { type: 'x509pop', payload: kit.pki.leafDer, csr } },
        ]),
    },
  ]
  for (const c of cases) {
    const err = await t.rejects(c.run(), c.name)
    t.equal((err as { code?: number }).code, status.INVALID_ARGUMENT, `${c.name}: INVALID_ARGUMENT`)
    if (c.code) t.equal(sigilCode(err as never), c.code, `${c.name}: ${c.code}`)
  }
  t.same(await kit.ds.listAttestedAgents(), [], 'no agent recorded')
  const agent = await attestJoinToken(kit, token)
  t.match(agent.svid.spiffe_id, token, 'the token survived the malformed attempts')
  await stillServing(t, kit)
})

t.test('x509pop is refused with INVALID_ARGUMENT when it is not configured', async (t) => {
  const kit = await startKit(t, { x509pop: false })
  const err = await t.rejects(attestX509pop(kit, [kit.pki.leafDer], kit.pki.leafKey))
  t.equal((err as { code?: number }).code, status.INVALID_ARGUMENT)
  await stillServing(t, kit)
})
