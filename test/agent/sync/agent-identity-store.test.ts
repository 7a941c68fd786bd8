// Persistence of the agent SVID, key and bundle: modes, atomic replacement, damage detection.
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { agentIdentityFromChain } from '../../../agent/sync/agent-identity.js'
import { AgentIdentityStore, BUNDLE_FILE, IDENTITY_FILE } from '../../../agent/sync/agent-identity-store.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { createTestCa } from '../../helpers/testca.js'
import { tempDir } from './server-kit.js'

const td = TrustDomain.parse('example.org')

async function makeIdentity() {
  const ca = await createTestCa()
  const svid = await ca.mintSvid('/sigil/agent/join_token/abc')
  return { ca, identity: agentIdentityFromChain([svid.certDer], svid.privateKey, td) }
}

t.test('saves and loads the identity and bundle with private modes', async (t) => {
  const dir = join(tempDir(t), 'agent-data')
  const store = new AgentIdentityStore(dir, td)
  t.equal(await store.loadIdentity(), undefined, 'nothing stored yet')
  t.equal(await store.loadBundle(), undefined)
  const { ca, identity } = await makeIdentity()
  await store.saveIdentity(identity, 'join_token:0123abcd')
  t.equal(statSync(dir).mode & 0o777, 0o700, 'directory 0700')
  t.equal(statSync(join(dir, IDENTITY_FILE)).mode & 0o777, 0o600, 'SVID and key file 0600')
  const loaded = await store.loadIdentity()
  t.equal(loaded?.credentialTag, 'join_token:0123abcd')
  t.equal(loaded?.identity.serial, identity.serial)
  t.equal(loaded?.identity.spiffeId.toString(), 'spiffe://example.org/sigil/agent/join_token/abc')
  t.ok(loaded?.identity.privateKey.equals(identity.privateKey), 'same key')
  t.equal(loaded?.identity.notAfter.getTime(), identity.notAfter.getTime())

  const bundle = TrustBundle.create({ trustDomain: td, x509Authorities: [ca.rootDer], sequenceNumber: 7 })
  await store.saveBundle(bundle)
  t.equal(statSync(join(dir, BUNDLE_FILE)).mode & 0o777, 0o600)
  t.ok((await store.loadBundle())?.equals(bundle), 'bundle round trip')

  // Replacement is atomic: no temporary files are left behind, the new content wins.
  const second = await makeIdentity()
  await store.saveIdentity(second.identity, 'x509pop:ffff')
  t.same(readdirSync(dir).sort(), [BUNDLE_FILE, IDENTITY_FILE].sort())
  t.equal((await store.loadIdentity())?.identity.serial, second.identity.serial)
  t.equal((await store.loadIdentity())?.credentialTag, 'x509pop:ffff')
  const text = readFileSync(join(dir, IDENTITY_FILE), 'utf8')
  t.match(text, /-----BEGIN CERTIFICATE-----[\s\S]*-----BEGIN PRIVATE KEY-----/, 'chain then PKCS#8 key')
  t.notMatch(text, /BEGIN EC PRIVATE KEY/)

  await store.deleteIdentity()
  t.equal(await store.loadIdentity(), undefined)
})

t.test('tightens an existing data directory to 0700', async (t) => {
  const dir = join(tempDir(t), 'wide')
  mkdirSync(dir, { mode: 0o755 })
  chmodSync(dir, 0o755)
  await new AgentIdentityStore(dir, td).ensureDir()
  t.equal(statSync(dir).mode & 0o777, 0o700)
})

t.test('a damaged or mismatched identity file is reported, not trusted', async (t) => {
  const dir = tempDir(t)
  const store = new AgentIdentityStore(dir, td)
  const { identity } = await makeIdentity()
  await store.saveIdentity(identity, '')
  const good = readFileSync(join(dir, IDENTITY_FILE), 'utf8')

  writeFileSync(join(dir, IDENTITY_FILE), good.replace(/-----BEGIN PRIVATE KEY-----[\s\S]*$/, ''))
  await t.rejects(store.loadIdentity(), { code: 'ERR_SVID_INVALID' }, 'no key')

  const other = await makeIdentity()
  const otherKey = /-----BEGIN PRIVATE KEY-----[\s\S]*$/.exec(
    (await (async () => {
      const d = tempDir(t)
      const s = new AgentIdentityStore(d, td)
      await s.saveIdentity(other.identity, '')
      return readFileSync(join(d, IDENTITY_FILE), 'utf8')
    })()) as string,
  )?.[0]
  writeFileSync(join(dir, IDENTITY_FILE), good.replace(/-----BEGIN PRIVATE KEY-----[\s\S]*$/, otherKey ?? ''))
  await t.rejects(store.loadIdentity(), { code: 'ERR_SVID_INVALID' }, 'a key of another SVID')

  const foreign = new AgentIdentityStore(dir, TrustDomain.parse('other.org'))
  writeFileSync(join(dir, IDENTITY_FILE), good)
  await t.rejects(foreign.loadIdentity(), { code: 'ERR_SVID_INVALID' }, 'an SVID of another trust domain')

  writeFileSync(join(dir, BUNDLE_FILE), '{"keys": [')
  await t.rejects(store.loadBundle(), { code: 'ERR_BUNDLE_INVALID' })
})
