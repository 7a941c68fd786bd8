// A full disk is ERR_DATASTORE_FULL / RESOURCE_EXHAUSTED on every path (issue 11, finding 6).
import { status } from '@grpc/grpc-js'
import Database from 'better-sqlite3'
import t from 'tap'
import { SigilError } from '../../../../certs/errors.js'
import { grpcStatusFor, toGrpcError } from '../../../../server/api/grpc-status.js'
import { isNoSpace, translateSqliteError } from '../../../../server/datastore/sqlite/sql.js'
import { probeStorage } from '../../../../server/datastore/storage-probe.js'

t.test('SQLITE_FULL and ENOSPC become ERR_DATASTORE_FULL "datastore: no space left"', async (t) => {
  const full = new Database.SqliteError('database or disk is full', 'SQLITE_FULL')
  const enospc = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
  for (const e of [full, enospc]) {
    t.ok(isNoSpace(e))
    const translated = translateSqliteError(e, { what: 'create entry' })
    t.match(translated, { code: 'ERR_DATASTORE_FULL', message: 'datastore: no space left (create entry)' })
  }
  t.notOk(isNoSpace(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR')))
})

t.test('ERR_DATASTORE_FULL is RESOURCE_EXHAUSTED with its message, logged as an error', async (t) => {
  t.equal(grpcStatusFor('ERR_DATASTORE_FULL'), status.RESOURCE_EXHAUSTED)
  const logged: string[] = []
  const log = { error: (_o: object, m: string) => logged.push(m), warn: () => {} }
  const e = toGrpcError(new SigilError('ERR_DATASTORE_FULL', 'datastore: no space left (x)'), log, 'M')
  t.equal(e.code, status.RESOURCE_EXHAUSTED)
  t.equal(e.details, 'datastore: no space left (x)')
  t.same(logged, ['storage is full'])
})

t.test('the storage probe passes on a writable dir and leaves nothing behind', async (t) => {
  const dir = t.testdir()
  t.equal(await probeStorage(dir), undefined)
  const { readdirSync } = await import('node:fs')
  t.same(readdirSync(dir), [])
  t.match(await probeStorage(`${dir}/missing`), /cannot write to .*ENOENT/)
})
