// Atomicity under injected failures, for every backend: the backend's test plants failures
// (triggers, from another connection) on the later statements of each multi-statement write —
// an entry selector 'uid:666', an agent selector 'cn:666', issuance record 's000005dc' (#1500
// of a batch) and every join token tombstone — then runs these checks; `allowTombstones`
// removes the last failure.
import type { Test } from 'tap'
import type { DataStore } from '../../../../server/datastore/datastore.js'
import { AGENT_A, after, entryInput, sel, tokenHash } from './fixtures.js'
import { svidBatch } from './issued-svids.js'

/** Checks that each failed write left nothing behind (the failures must be planted already). */
export async function checkNothingHalfWritten(
  t: Test,
  ds: DataStore,
  allowTombstones: () => Promise<void>,
): Promise<void> {
  const now = new Date('2030-01-01T00:00:00Z')
  await t.rejects(ds.createEntry(entryInput({ selectors: sel('unix:uid:1', 'unix:uid:666') })), {
    code: 'ERR_DATASTORE',
  })
  t.equal(await ds.countEntries(), 0, 'no entry row without its selectors')

  const e = await ds.createEntry(entryInput({ selectors: sel('unix:uid:1', 'unix:uid:2') }))
  await t.rejects(ds.updateEntry(e.id, { selectors: sel('unix:uid:3', 'unix:uid:666'), hint: 'x' }), {
    code: 'ERR_DATASTORE',
  })
  t.same(await ds.getEntry(e.id), e, 'the entry keeps its old selectors and revision')

  const agent = {
    spiffeId: AGENT_A,
    attestationType: 'x509pop',
    serialNumber: '01',
    expiresAt: after(now, 60),
    selectors: sel('x509pop:cn:1', 'x509pop:cn:666'),
  } as const
  await t.rejects(ds.createOrUpdateAttestedAgent(agent, now), { code: 'ERR_DATASTORE' })
  t.equal(await ds.getAttestedAgent(AGENT_A), undefined)

  await t.rejects(ds.recordIssuedSvids(svidBatch(3000)), { code: 'ERR_DATASTORE' }, 'record #1500 fails')
  t.same(await ds.listIssuedSvids(), [], 'none of the batch was recorded')

  const h = tokenHash()
  await ds.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(now, 60) })
  await t.rejects(ds.consumeJoinToken(h, now), { code: 'ERR_DATASTORE' })
  await allowTombstones()
  t.same(
    await ds.consumeJoinToken(h, now),
    { spiffeId: '' },
    'the token was not deleted without its tombstone',
  )
  await ds.integrityCheck()
}
