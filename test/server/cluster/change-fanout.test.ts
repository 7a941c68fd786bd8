// The change fan-out between two servers on one real SQLite file (two datastore handles, as two
// processes would have): a hold waiting on server A wakes when an operator decides it through
// server B, and A's revocation list takes in what B revoked — with nothing but A's fan-out of
// A's own datastore watch calling A's components (no polling of its own).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ApprovalService } from '../../../server/approval/approval-service.js'
import { ChangeFanout } from '../../../server/cluster/change-fanout.js'
import { openDataStore } from '../../../server/datastore/open-data-store.js'
import { RevocationList } from '../../../server/revocation/revocation-list.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { RecordingLogger } from '../ca/ca-test-kit.js'

const KEY = {
  principal: 'spiffe://example.org/worker',
  action: 'CallTool',
  resource: 'Sigil::Tool::"payments"',
  taskId: '',
  reason: 'approval required by policy "p"',
}

t.test('server A’s fan-out wakes A’s hold decided through B and takes in B’s revocations', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-fanout-'))
  const path = join(dir, 'datastore.sqlite3')
  const [dsA, dsB] = [
    await openDataStore({ kind: 'sqlite', path }),
    await openDataStore({ kind: 'sqlite', path }),
  ]
  const logger = new RecordingLogger()
  const clock = () => new Date()
  let n = 0
  const approvalsA = new ApprovalService({ datastore: dsA, logger, clock, newId: () => `a-${++n}` })
  const approvalsB = new ApprovalService({ datastore: dsB, logger, clock })
  const list = (datastore: typeof dsA) =>
    RevocationList.load({ datastore, clock, logger, unknownCredentialTtlMs: 3_600_000 })
  const [revocationsA, revocationsB] = [await list(dsA), await list(dsB)]
  const stop = new ChangeFanout({
    datastore: dsA,
    targets: { approvals: approvalsA, revocations: revocationsA },
    logger,
  }).start()
  t.teardown(async () => {
    stop()
    approvalsA.close()
    approvalsB.close()
    await dsA.close()
    await dsB.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const held = approvalsA.hold({ ...KEY, timeoutSeconds: 60 })
  await waitUntil('the hold to be recorded', async () => (await dsB.getApproval('a-1')) !== undefined, {
    timeoutMs: 5000,
  })
  await approvalsB.approve('a-1', 600, 'uid 0 pid 1 exe /usr/bin/sigil-server')
  const woken = await Promise.race([
    held,
    new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000).unref()),
  ])
  t.match(woken, { id: 'a-1', status: 'approved' }, 'the waiter on A got B’s decision')

  await revocationsB.revoke({ kind: 'jwt_jti', value: 'revoked-through-b' })
  await waitUntil(
    'A to hold the revocation made through B',
    () => revocationsA.isRevoked('jwt_jti', 'revoked-through-b'),
    {
      timeoutMs: 10_000,
    },
  )
  t.pass('A takes in B’s revocation')
})
