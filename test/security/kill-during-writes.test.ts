// Attack family: the server is killed with SIGKILL (OOM killer, power cut of the process) while
// it is acknowledging writes; an operator must find every write it acknowledged after the
// restart. A real sigil-server process on a real SQLite file, driven through the admin API with
// several creates in flight; two rounds of kill -9 and restart on the same data dir.
import { join } from 'node:path'
import t from 'tap'
import { AdminClient } from '../../server/cli/admin-client.js'
import { type ServerProcess, shortTempDir, startServerProcess } from '../helpers/server-process.js'

const TD = 'spiffe://example.org'
const ROUNDS = 2
const IN_FLIGHT = 6
/** Acknowledgements to wait for before the kill (the kill lands while more are in flight). */
const ACKS_BEFORE_KILL = [60, 140]
const dir = shortTempDir(t)
const dataDir = join(dir, 's')
let server: ServerProcess = await startServerProcess(dataDir)
t.teardown(() => server.stop())

/**
 * Creates entries with IN_FLIGHT calls outstanding until the server dies; resolves the IDs of
 * the acknowledged ones. `onAck` sees the count after each acknowledgement.
 */
async function createUntilDead(
  round: number,
  admin: AdminClient,
  onAck: (n: number) => void,
): Promise<string[]> {
  const acked: string[] = []
  let next = 0
  let dead = false
  const worker = async () => {
    while (!dead && next < 10_000) {
      const n = next++
      try {
        const res = await admin.call('CreateEntry', {
          entry: {
            spiffe_id: `${TD}/round-${round}/w-${n}`,
            parent_id: `${TD}/node`,
            selectors: [{ type: 'unix', value: `uid:${n}` }],
          },
        })
        acked.push(res.entry?.id ?? `missing-id-${n}`)
        onAck(acked.length)
      } catch {
        dead = true // the server is gone: anything not acknowledged may or may not be stored
      }
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  return acked
}

// Attack: kill -9 the server mid-way through a stream of acknowledged entry creations.
t.test('every entry acknowledged before a kill -9 is present after the restart (2 rounds)', async (t) => {
  const allAcked: string[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const admin = AdminClient.open(server.adminSocket)
    const victim = server
    const killAt = ACKS_BEFORE_KILL[round] ?? 100
    const acked = await createUntilDead(round, admin, (n) => {
      if (n === killAt) victim.child.kill('SIGKILL')
    })
    admin.close()
    const code = await victim.stop()
    t.equal(victim.child.signalCode, 'SIGKILL', `round ${round}: the server died of SIGKILL (exit ${code})`)
    t.ok(acked.length >= killAt, `round ${round}: ${acked.length} creates acknowledged before the kill`)
    allAcked.push(...acked)

    server = await startServerProcess(dataDir)
    const after = AdminClient.open(server.adminSocket)
    try {
      const listed = await after.call('ListEntries', {})
      const ids = new Set(listed.entries.map((e) => e.id))
      const lost = allAcked.filter((id) => !ids.has(id))
      t.same(
        lost,
        [],
        `round ${round}: no acknowledged entry lost (${allAcked.length} acknowledged, ${ids.size} stored)`,
      )
      const count = await after.call('CountEntries', {})
      t.equal(Number(count.count), ids.size, `round ${round}: the count agrees with the list`)
      t.match(
        await after.call('Health', {}),
        { serving: true },
        `round ${round}: the restarted server is healthy`,
      )
    } finally {
      after.close()
    }
  }
})
