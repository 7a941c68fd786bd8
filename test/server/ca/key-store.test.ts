import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { generateKeyPair, privateKeyToPkcs8Pem } from '../../../certs/keys/keys.js'
import { type KeyJournal, KeyStore } from '../../../server/ca/key-store.js'

async function sampleJournal(): Promise<KeyJournal> {
  const a = await generateKeyPair('ec-p256')
  const b = await generateKeyPair('ec-p256')
  const j = await generateKeyPair('ec-p256')
  const pub = j.publicKey.export({ type: 'spki', format: 'pem' }) as string
  return {
    x509: [
      {
        id: 'x-retired',
        status: 'retired',
        certificatePem: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n',
        notBefore: new Date('2030-01-01T00:00:00Z'),
        notAfter: new Date('2030-01-02T00:00:00Z'),
        signedUntil: new Date('2030-01-01T21:00:00Z'),
        tainted: true,
      },
      {
        id: 'x-active',
        status: 'active',
        privateKeyPem: privateKeyToPkcs8Pem(a.privateKey),
        certificatePem: '-----BEGIN CERTIFICATE-----\nAQ==\n-----END CERTIFICATE-----\n',
        notBefore: new Date('2030-01-01T12:00:00Z'),
        notAfter: new Date('2030-01-02T12:00:00Z'),
      },
      {
        id: 'x-prepared',
        status: 'prepared',
        privateKeyPem: privateKeyToPkcs8Pem(b.privateKey),
        certificatePem: '-----BEGIN CERTIFICATE-----\nAg==\n-----END CERTIFICATE-----\n',
        notBefore: new Date('2030-01-02T00:00:00Z'),
        notAfter: new Date('2030-01-03T00:00:00Z'),
      },
    ],
    jwt: [
      {
        id: 'j-active',
        status: 'active',
        privateKeyPem: privateKeyToPkcs8Pem(j.privateKey),
        kid: 'abcdefghijklmnopqrstuvwxyz012345',
        publicKeyPem: pub,
        notBefore: new Date('2030-01-01T00:00:00Z'),
        notAfter: new Date('2030-01-02T00:00:00Z'),
      },
    ],
  }
}

t.test('round trip: what is saved is what is loaded', async (t) => {
  const dataDir = t.testdir()
  const store = new KeyStore(dataDir)
  t.equal(await store.load(), undefined, 'nothing saved yet')
  const journal = await sampleJournal()
  await store.save(journal)
  const loaded = await new KeyStore(dataDir).load()
  t.same(loaded, journal)
  t.ok(loaded?.x509[0]?.notBefore instanceof Date, 'dates come back as Dates')
})

t.test('a retired authority is saved without its private key', async (t) => {
  const dataDir = t.testdir()
  const store = new KeyStore(dataDir)
  const journal = await sampleJournal()
  const first = journal.x509[1]!
  await store.save({ jwt: [], x509: [{ ...first, status: 'retired' }] })
  const text = await readFile(store.path, 'utf8')
  t.notMatch(text, /PRIVATE KEY/, 'no key material left for the retired CA')
  t.equal((await store.load())?.x509[0]?.privateKeyPem, undefined)
})

t.test(
  'modes: keys/ is 0700 and the file 0600, even under a loose umask and an existing 0755 dir',
  async (t) => {
    const dataDir = t.testdir()
    await mkdir(join(dataDir, 'keys'), { mode: 0o755 })
    await chmod(join(dataDir, 'keys'), 0o755)
    const old = process.umask(0)
    t.teardown(() => {
      process.umask(old)
    })
    const store = new KeyStore(dataDir)
    await store.save(await sampleJournal())
    t.equal((await stat(store.dir)).mode & 0o777, 0o700, 'dir 0700')
    t.equal((await stat(store.path)).mode & 0o777, 0o600, 'file 0600')
    await store.save(await sampleJournal())
    t.equal((await stat(store.path)).mode & 0o777, 0o600, 'still 0600 after a replace')
    t.same(await readdir(store.dir), ['authorities.json'], 'no temp files left behind')
  },
)

t.test('stale temp files from a crash are removed; the last complete state survives', async (t) => {
  const dataDir = t.testdir()
  const store = new KeyStore(dataDir)
  const journal = await sampleJournal()
  await store.save(journal)
  await writeFile(join(store.dir, '.authorities.json.deadbeef.tmp'), '{"version":1,"x509":[', { mode: 0o600 })
  t.same(await store.load(), journal)
  t.same(await readdir(store.dir), ['authorities.json'])
})

t.test('a damaged store is ERR_DATASTORE, never silently replaced', async (t) => {
  const cases: [string, string][] = [
    ['not JSON', '{'],
    ['wrong version', '{"version":2,"x509":[],"jwt":[]}'],
    ['x509 not an array', '{"version":1,"x509":{},"jwt":[]}'],
    ['bad status', '{"version":1,"x509":[],"jwt":[{"id":"a","status":"zombie"}]}'],
    [
      'active without a key',
      '{"version":1,"jwt":[],"x509":[{"id":"a","status":"active","certificatePem":"x","notBefore":"2030-01-01T00:00:00Z","notAfter":"2030-01-02T00:00:00Z"}]}',
    ],
    [
      'tainted not a boolean',
      '{"version":1,"jwt":[],"x509":[{"id":"a","status":"retired","certificatePem":"x","notBefore":"2030-01-01T00:00:00Z","notAfter":"2030-01-02T00:00:00Z","tainted":"yes"}]}',
    ],
    [
      'a tainted active authority',
      '{"version":1,"jwt":[],"x509":[{"id":"a","status":"active","privateKeyPem":"k","certificatePem":"x","notBefore":"2030-01-01T00:00:00Z","notAfter":"2030-01-02T00:00:00Z","tainted":true}]}',
    ],
    [
      'bad date',
      '{"version":1,"jwt":[],"x509":[{"id":"a","status":"retired","certificatePem":"x","notBefore":"yesterday","notAfter":"2030-01-02T00:00:00Z"}]}',
    ],
  ]
  const root = t.testdir()
  for (const [i, [name, text]] of cases.entries()) {
    const dataDir = join(root, String(i))
    const store = new KeyStore(dataDir)
    await mkdir(store.dir, { recursive: true })
    await writeFile(store.path, text)
    await t.rejects(store.load(), { name: 'SigilError', code: 'ERR_DATASTORE' }, name)
  }
})

// Attack: another local user reads the CA keys through a key file or directory left too open.
t.test('a key file or directory more open than 0600/0700 is refused once it holds keys', async (t) => {
  const dataDir = t.testdir()
  const store = new KeyStore(dataDir)
  await store.save(await sampleJournal())
  await chmod(store.path, 0o644)
  await t.rejects(store.load(), {
    code: 'ERR_DATASTORE',
    message: /authorities\.json is mode 0644.*chmod 0600/,
  })
  await chmod(store.path, 0o600)
  await chmod(store.dir, 0o750)
  await t.rejects(store.load(), { code: 'ERR_DATASTORE', message: /keys is mode 0750.*chmod 0700/ })
  await t.rejects(store.save(await sampleJournal()), { code: 'ERR_DATASTORE' }, 'nor written to')
  await chmod(store.dir, 0o700)
  t.ok(await store.load(), 'loads once the modes are right')
})

// Attack: the disk under the key store fills up; a save must fail clearly and keep the old journal.
t.test(
  'ENOSPC while saving is ERR_DATASTORE_FULL and the old journal survives',
  { skip: process.getuid?.() === 0 ? false : 'needs root to mount a tmpfs for a full disk' },
  async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sigil-ks-'))
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dataDir], { stdio: 'pipe' })
    } catch {
      rmSync(dataDir, { recursive: true, force: true })
      return t.plan(0, 'skip: mount -t tmpfs is not permitted here (a container without CAP_SYS_ADMIN)')
    }
    t.teardown(() => {
      execFileSync('umount', [dataDir], { stdio: 'pipe' })
      rmSync(dataDir, { recursive: true, force: true })
    })
    const store = new KeyStore(dataDir)
    const journal = await sampleJournal()
    await store.save(journal)
    await writeFile(join(dataDir, 'filler'), Buffer.alloc(256 * 1024)).catch(() => {})
    const big = {
      ...journal,
      jwt: Array.from({ length: 40 }, (_, i) => ({ ...journal.jwt[0]!, id: `j${i}` })),
    }
    await t.rejects(store.save(big), {
      code: 'ERR_DATASTORE_FULL',
      message: /authorities\.json: no space left/,
    })
    t.same(await store.load(), journal, 'the previous journal is intact')
    t.same(await readdir(store.dir), ['authorities.json'], 'no temp file left behind')
  },
)
