// Getting and keeping the agent identity across restarts, against a real agent API.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { AgentEnrollment } from '../../../agent/sync/agent-enrollment.js'
import { AgentIdentityStore, IDENTITY_FILE } from '../../../agent/sync/agent-identity-store.js'
import { credentialTag, loadNodeCredential } from '../../../agent/sync/node-credential.js'
import { ServerClient } from '../../../agent/sync/server-client.js'
import { privateKeyToPkcs8Pem } from '../../../certs/keys/keys.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { createTestCa } from '../../helpers/testca.js'
import { recordingLogger, type ServerKit, startServerKit, tempDir } from './server-kit.js'

function agentParts(
  t: { teardown(fn: () => unknown): void },
  kit: ServerKit,
  dataDir: string,
  token: string | undefined,
  clock?: () => Date,
) {
  const store = new AgentIdentityStore(dataDir, kit.trustDomain)
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
  })
  t.teardown(() => client.close())
  const credential = loadNodeCredential({ joinToken: token })
  const logger = recordingLogger()
  const enrollment = new AgentEnrollment({
    store,
    client,
    credential,
    logger,
    ...(clock ? { clock } : {}),
    random: () => 0,
  })
  return { store, client, enrollment, logger }
}

t.test(
  'attests once, persists, and reuses the SVID after a restart without spending the token again',
  async (t) => {
    const kit = await startServerKit()
    t.teardown(() => kit.close())
    const dataDir = join(tempDir(t), 'data')
    await kit.createJoinToken('one-time')
    const signal = new AbortController().signal

    const first = agentParts(t, kit, dataDir, 'one-time')
    const identity = await first.enrollment.start(signal)
    t.equal(identity.spiffeId.toString(), 'spiffe://example.org/sigil/agent/join_token/one-time')
    t.ok(first.logger.entries.some((e) => e.msg === 'node attested'))
    t.equal(first.enrollment.credentialTag, credentialTag({ type: 'join_token', token: 'one-time' }))
    const tagLine =
      /^# attested-with: .*$/m.exec(readFileSync(join(dataDir, IDENTITY_FILE), 'utf8'))?.[0] ?? ''
    t.match(tagLine, /join_token:[0-9a-f]{64}$/, 'the credential is recorded as a hash')
    t.ok(await first.store.loadBundle(), 'bundle stored')
    first.client.close()

    // "Restart": new objects, same data dir, same (spent) token.
    const second = agentParts(t, kit, dataDir, 'one-time')
    const plan = await second.enrollment.prepare()
    t.ok('identity' in plan, 'the stored SVID is reused')
    t.equal('identity' in plan ? plan.identity.serial : '', identity.serial)
    t.notOk(
      second.logger.entries.some((e) => e.msg === 'node attested'),
      'no attestation',
    )
    t.equal(second.client.identity?.serial, identity.serial)
    t.equal(
      (await second.client.syncAuthorizedEntries()).entries.length,
      0,
      'the server accepts the stored SVID',
    )
    t.equal(second.enrollment.canAttest(), false, 'the spent token is not offered again')

    // Expired by the agent's clock, with only the spent token: refuse clearly.
    const later = () => new Date(Date.now() + 2 * 3_600_000)
    const third = agentParts(t, kit, dataDir, 'one-time', later)
    await t.rejects(third.enrollment.prepare(), { code: 'ERR_CONFIG_INVALID', message: /already used/ })
    const none = agentParts(t, kit, dataDir, undefined, later)
    await t.rejects(none.enrollment.prepare(), { code: 'ERR_CONFIG_INVALID', message: /no node credential/ })

    // Expired, with a new token: attests again.
    await kit.createJoinToken('second-token')
    const fourth = agentParts(t, kit, dataDir, 'second-token', later)
    const plan4 = await fourth.enrollment.prepare()
    t.ok('attestBecause' in plan4)
    const renewed = await fourth.enrollment.start(signal)
    t.equal(renewed.spiffeId.toString(), 'spiffe://example.org/sigil/agent/join_token/second-token')
  },
)

t.test('an evicted agent re-attests with a reusable credential, not with a spent token', async (t) => {
  const popCa = await createTestCa({ trustDomain: 'nodes.example' })
  const kit = await startServerKit({ x509popCaCerts: [popCa.rootDer] })
  t.teardown(() => kit.close())
  const dir = tempDir(t)
  const signal = new AbortController().signal

  await kit.createJoinToken('evict-me')
  const tokenAgent = agentParts(t, kit, join(dir, 'a'), 'evict-me')
  const id = await tokenAgent.enrollment.start(signal)
  await kit.datastore.deleteAttestedAgent(id.spiffeId.toString())
  await t.rejects(tokenAgent.client.syncAuthorizedEntries(), { code: 'ERR_NOT_AUTHORIZED' })
  t.equal(tokenAgent.enrollment.canAttest(), false)
  await t.rejects(tokenAgent.enrollment.attest(signal, 'refused'), { code: 'ERR_CONFIG_INVALID' })

  // x509pop from PEM files: the same certificate proves the node again after eviction.
  const leaf = await popCa.mintSvid('/node-7')
  writeFileSync(join(dir, 'node.pem'), certificatesToPem([leaf.certDer]))
  writeFileSync(join(dir, 'node.key'), privateKeyToPkcs8Pem(leaf.privateKey))
  const credential = loadNodeCredential({
    x509popCert: join(dir, 'node.pem'),
    x509popKey: join(dir, 'node.key'),
  })
  t.equal(credential?.type, 'x509pop')
  const store = new AgentIdentityStore(join(dir, 'b'), kit.trustDomain)
  const client = new ServerClient({
    address: kit.address,
    trustDomain: kit.trustDomain,
    bundle: kit.bundle(),
  })
  t.teardown(() => client.close())
  const enrollment = new AgentEnrollment({ store, client, credential, logger: recordingLogger() })
  const popId = await enrollment.start(signal)
  await kit.datastore.deleteAttestedAgent(popId.spiffeId.toString())
  await t.rejects(client.syncAuthorizedEntries(), { code: 'ERR_NOT_AUTHORIZED' })
  t.equal(enrollment.canAttest(), true)
  const again = await enrollment.attest(signal, 'refused')
  t.equal(again.spiffeId.toString(), popId.spiffeId.toString(), 'same certificate, same agent ID')
  t.not(again.serial, popId.serial)
  t.equal((await client.syncAuthorizedEntries()).entries.length, 0, 'accepted again')

  // Banned agents may not come back.
  await kit.datastore.banAttestedAgent(popId.spiffeId.toString())
  await t.rejects(enrollment.attest(signal, 'refused'), { code: 'ERR_ATTESTATION_FAILED' })
})

t.test('a bad x509pop configuration is a configuration error', async (t) => {
  const dir = tempDir(t)
  const ca = await createTestCa()
  const a = await ca.mintSvid('/a')
  const b = await ca.mintSvid('/b')
  writeFileSync(join(dir, 'a.pem'), certificatesToPem([a.certDer]))
  writeFileSync(join(dir, 'b.key'), privateKeyToPkcs8Pem(b.privateKey))
  t.throws(() => loadNodeCredential({ x509popCert: join(dir, 'a.pem'), x509popKey: join(dir, 'b.key') }), {
    code: 'ERR_CONFIG_INVALID',
  })
  t.throws(
    () => loadNodeCredential({ x509popCert: join(dir, 'missing.pem'), x509popKey: join(dir, 'b.key') }),
    {
      code: 'ERR_CONFIG_INVALID',
    },
  )
  t.equal(loadNodeCredential({}), undefined)
})
