// The start-up check that the key store and the datastore belong together (issue 11, finding 5).
import t from 'tap'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { checkCaState } from '../../../server/ca/ca-state-check.js'
import type { KeyJournal } from '../../../server/ca/key-store.js'

const td = TrustDomain.parse('example.org')
const journal: KeyJournal = {
  x509: [],
  jwt: [
    {
      id: 'j',
      status: 'active',
      privateKeyPem: 'unused',
      kid: 'kid-1',
      publicKeyPem: 'unused',
      notBefore: new Date(0),
      notAfter: new Date(1),
    },
  ],
}

function store(bundle: string | undefined, entries = 0, agents = 0) {
  return {
    getBundle: async () =>
      bundle === undefined ? undefined : { spiffeBundleJson: bundle, sequenceNumber: 1 },
    countEntries: async () => entries,
    listAttestedAgents: async () => new Array(agents).fill({}),
  }
}

function run(
  j: KeyJournal | undefined,
  ds: ReturnType<typeof store>,
  flags: Partial<Record<'allowNewCa' | 'allowEmptyDatastore', boolean>> = {},
) {
  const warnings: string[] = []
  const done = checkCaState({
    trustDomain: td,
    journal: j,
    keyStorePath: '/d/keys/authorities.json',
    datastore: ds,
    datastorePath: '/d/datastore.sqlite3',
    allowNewCa: flags.allowNewCa ?? false,
    allowEmptyDatastore: flags.allowEmptyDatastore ?? false,
    logger: { warn: (_o, msg) => warnings.push(msg) },
  })
  return { done, warnings }
}

// a bundle document holding one JWT key with kid `kid`
function bundleWithKid(kid: string): string {
  const key = {
    kty: 'EC',
    crv: 'P-256',
    x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
    y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    use: 'jwt-svid',
    kid,
  }
  return JSON.stringify({ keys: [key], spiffe_sequence: 1 })
}

t.test('a fresh data dir passes', async (t) => {
  await t.resolves(run(undefined, store(undefined)).done)
})

t.test('keys missing beside a used datastore: refused, unless --allow-new-ca (warned)', async (t) => {
  await t.rejects(run(undefined, store('{}', 3)).done, {
    code: 'ERR_DATASTORE',
    message: /^key store \/d\/keys\/authorities\.json is missing .*--allow-new-ca/,
  })
  await t.rejects(run({ x509: [], jwt: [] }, store(undefined, 0, 2)).done, { code: 'ERR_DATASTORE' })
  const ok = run(undefined, store('{}', 3), { allowNewCa: true })
  await ok.done
  t.match(ok.warnings[0], /new CA/)
})

t.test('keys beside an empty datastore: refused, unless --allow-empty-datastore (warned)', async (t) => {
  await t.rejects(run(journal, store(undefined)).done, {
    code: 'ERR_DATASTORE',
    message: /^datastore \/d\/datastore\.sqlite3 is empty .*--allow-empty-datastore/,
  })
  const ok = run(journal, store(undefined), { allowEmptyDatastore: true })
  await ok.done
  t.match(ok.warnings[0], /empty datastore/)
  await t.resolves(run(journal, store(undefined, 1)).done, 'a lost bundle row alone is republished')
})

t.test('keys that share no authority with the stored bundle: refused, unless --allow-new-ca', async (t) => {
  await t.resolves(run(journal, store(bundleWithKid('kid-1'))).done, 'matching kid passes')
  await t.rejects(run(journal, store(bundleWithKid('kid-2'))).done, {
    code: 'ERR_DATASTORE',
    message: /holds none of the authorities/,
  })
  await t.resolves(run(journal, store(bundleWithKid('kid-2')), { allowNewCa: true }).done)
  await t.resolves(run(journal, store('not json')).done, 'an unreadable bundle is republished, not fatal')
})
