// Conformance: two handles on one store (two servers on one database) racing on what must stay
// single: a join token's one use, revocation sequence numbers (unique, gap-free, never reused
// after pruning), an entry's uniqueness. On PostgreSQL the handles are separate pools whose
// transactions really interleave; on SQLite the file's write lock serializes them.
import type { Test } from 'tap'
import type { DataStore, RevocationInput } from '../../../../server/datastore/datastore.js'
import { after, entryInput, TD, tokenHash } from './fixtures.js'
import type { MakeLocation, OpenHandle } from './shared-store.js'

async function handle(t: Test, open: OpenHandle): Promise<DataStore> {
  const ds = await open()
  t.teardown(async () => {
    await ds.integrityCheck()
    await ds.close()
  })
  return ds
}

const codeOf = (r: PromiseSettledResult<unknown>) =>
  r.status === 'rejected' ? ((r.reason as { code?: string }).code ?? String(r.reason)) : 'ok'

/** How many of each outcome, e.g. `{ ok: 1, ERR_TOKEN_USED: 3 }`. */
function tally(results: readonly PromiseSettledResult<unknown>[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of results) out[codeOf(r)] = (out[codeOf(r)] ?? 0) + 1
  return out
}

/** 1..n. */
const upTo = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

export function raceTests(t: Test, makeLocation: MakeLocation): void {
  t.test('races: four consumers of one join token on two handles, exactly one wins', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    const now = new Date()
    const hashes = Array.from({ length: 30 }, () => tokenHash())
    for (const h of hashes)
      await one.createJoinToken({ tokenHash: h, spiffeId: '', expiresAt: after(now, 60) })
    const rounds = await Promise.all(
      hashes.map((h) =>
        Promise.allSettled([
          one.consumeJoinToken(h, now),
          two.consumeJoinToken(h, now),
          two.consumeJoinToken(h, now),
          one.consumeJoinToken(h, now),
        ]),
      ),
    )
    for (const [i, results] of rounds.entries()) {
      const counts = tally(results)
      t.equal(counts.ok, 1, `token ${i}: one winner`)
      t.equal(
        (counts.ERR_TOKEN_USED ?? 0) + (counts.ERR_TOKEN_INVALID ?? 0),
        3,
        `token ${i}: ${JSON.stringify(counts)}`,
      )
    }
    // an expired token raced: nobody wins, whoever comes second finds nothing
    const expired = tokenHash()
    await one.createJoinToken({ tokenHash: expired, spiffeId: '', expiresAt: after(now, -1) })
    const late = await Promise.allSettled([
      one.consumeJoinToken(expired, now),
      two.consumeJoinToken(expired, now),
    ])
    t.same(tally(late), { ERR_TOKEN_EXPIRED: 1, ERR_TOKEN_INVALID: 1 }, 'an expired token: no winner')
  })

  t.test(
    'races: revocations from two handles get unique, gap-free sequence numbers, never reused',
    async (t) => {
      const open = await makeLocation()
      const one = await handle(t, open)
      const two = await handle(t, open)
      const now = new Date()
      const batch = (tag: string, n: number, expiresIn = 60): RevocationInput[] =>
        Array.from({ length: n }, (_, i) => ({
          kind: 'jwt_jti',
          value: `${tag}-${i}`,
          reason: '',
          expiresAt: after(now, expiresIn),
        }))
      // 20 batches of 3 from each handle, plus the same credentials revoked by both at once
      const added = await Promise.all(
        upTo(1, 20).flatMap((i) => [
          one.addRevocations(batch(`one-${i}`, 3), now),
          two.addRevocations(batch(`two-${i}`, 3), now),
          one.addRevocations(batch(`both-${i}`, 1), now),
          two.addRevocations(batch(`both-${i}`, 1), now),
        ]),
      )
      const stored = await one.listRevocations()
      t.equal(stored.length, 20 * 7, 'every distinct credential once')
      t.same(
        stored.map((r) => r.sequence),
        upTo(1, 140),
        'sequence numbers 1..140: unique and gap-free',
      )
      t.equal(await two.revocationSequence(), 140)
      t.same(await two.listRevocations(), stored, 'both handles see the same numbering')
      for (const records of added) {
        const seqs = records.map((r) => r.sequence)
        t.same(seqs, upTo(seqs[0]!, seqs[0]! + seqs.length - 1), 'a batch is numbered consecutively')
      }
      for (let i = 1; i <= 20; i++) {
        const [first, second] = [added[(i - 1) * 4 + 2]![0]!, added[(i - 1) * 4 + 3]![0]!]
        t.equal(first.sequence, second.sequence, `both-${i}: revoked twice, one record`)
      }

      // prune everything, then race again: the numbers go on from 141
      t.equal(await two.pruneRevocations(after(now, 120)), 140)
      await Promise.all(
        upTo(1, 10).flatMap((i) => [
          one.addRevocations(batch(`again-one-${i}`, 2), now),
          two.addRevocations(batch(`again-two-${i}`, 2), now),
        ]),
      )
      t.same(
        (await one.listRevocations()).map((r) => r.sequence),
        upTo(141, 180),
        'after pruning: 141..180, none reused',
      )
      t.same(
        (await two.listRevocations({ since: 170 })).map((r) => r.sequence),
        upTo(171, 180),
      )
    },
  )

  t.test('races: the same entry created four times on two handles, exactly one exists', async (t) => {
    const open = await makeLocation()
    const one = await handle(t, open)
    const two = await handle(t, open)
    const rounds = await Promise.all(
      upTo(1, 15).map((i) => {
        const input = entryInput({ spiffeId: `${TD}/raced-${i}` })
        return Promise.allSettled([
          one.createEntry(input),
          two.createEntry(input),
          one.createEntry(input),
          two.createEntry(input),
        ])
      }),
    )
    for (const [i, results] of rounds.entries()) {
      t.same(tally(results), { ok: 1, ERR_ENTRY_EXISTS: 3 }, `entry ${i + 1}: one created`)
    }
    t.equal(await two.countEntries(), 15)
    // a caller-chosen ID raced with different contents: one wins
    const byId = await Promise.allSettled([
      one.createEntry(entryInput({ id: 'chosen-id', spiffeId: `${TD}/a` })),
      two.createEntry(entryInput({ id: 'chosen-id', spiffeId: `${TD}/b` })),
    ])
    t.same(tally(byId), { ok: 1, ERR_ENTRY_EXISTS: 1 }, 'one entry per caller-chosen ID')
    t.equal(await one.countEntries(), 16)
  })
}
