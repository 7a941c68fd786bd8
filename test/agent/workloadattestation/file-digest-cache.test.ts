import { createHash } from 'node:crypto'
import { appendFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { FileDigestCache } from '../../../agent/workloadattestation/file-digest-cache.js'

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')

t.test('hashes a file, streaming it, and caches by (dev, ino, size, mtime, ctime)', async (t) => {
  const dir = t.testdir({ 'a.bin': 'hello' })
  const file = join(dir, 'a.bin')
  const digests = new FileDigestCache()
  t.equal(await digests.sha256(file), sha256('hello'))
  t.equal(await digests.sha256(file), sha256('hello'))
  t.same(digests.stats, { hits: 1, computed: 1 }, 'the second call is served from the cache')

  appendFileSync(file, ' world')
  t.equal(await digests.sha256(file), sha256('hello world'), 'a changed file is hashed again')
  t.same(digests.stats, { hits: 1, computed: 2 })

  symlinkSync(file, join(dir, 'link'))
  t.equal(await digests.sha256(join(dir, 'link')), sha256('hello world'), 'symlinks are followed')
  t.same(digests.stats, { hits: 2, computed: 2 }, 'the same inode through a link hits the cache')
})

t.test('a file larger than one chunk hashes correctly; concurrent requests compute once', async (t) => {
  const dir = t.testdir({})
  const data = Buffer.alloc(3 * (1 << 20) + 17, 7)
  writeFileSync(join(dir, 'big'), data)
  const digests = new FileDigestCache()
  const results = await Promise.all([1, 2, 3].map(() => digests.sha256(join(dir, 'big'))))
  t.same(results, [sha256(data), sha256(data), sha256(data)])
  t.equal(digests.stats.computed, 1)
})

t.test('the cache is bounded', async (t) => {
  const dir = t.testdir({ a: 'a', b: 'b', c: 'c' })
  const digests = new FileDigestCache({ maxEntries: 2 })
  for (const f of ['a', 'b', 'c', 'a']) await digests.sha256(join(dir, f))
  t.equal(digests.stats.computed, 4, 'the oldest entry was evicted')
  t.throws(() => new FileDigestCache({ maxEntries: 0 }), TypeError)
})

t.test('missing files and directories are refused', async (t) => {
  const dir = t.testdir({})
  mkdirSync(join(dir, 'sub'))
  const digests = new FileDigestCache()
  await t.rejects(digests.sha256(join(dir, 'missing')), { code: 'ERR_ATTESTATION_FAILED' })
  await t.rejects(digests.sha256(join(dir, 'sub')), { code: 'ERR_ATTESTATION_FAILED' })
})
