// The audit admin handlers: `audit list` keeps its answer under the CLI's 1 MiB message limit
// (the newest records, flagged truncated), and refuses bad filters and anchors with INVALID_ARGUMENT.
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import type { AdminApiDeps } from '../../../../server/api/admin/admin-api-deps.js'
import { auditHandlers, MAX_LISTED_AUDIT_BYTES } from '../../../../server/api/admin/audit.js'
import { sealAuditRecords } from '../../../../server/audit/audit-chain.js'

const quiet = { debug() {}, info() {}, warn() {}, error() {} }
const records = sealAuditRecords(
  undefined,
  Array.from({ length: 3000 }, (_, i) => ({
    at: i,
    kind: 'admin_operation',
    decision: 'allow' as const,
    spiffeId: '',
    taskId: '',
    serialOrJti: '',
    actor: '',
    details: JSON.stringify({ i, pad: 'x'.repeat(500) }),
  })),
)
const handlers = auditHandlers({
  logger: quiet,
  clock: () => new Date(),
  audit: {
    list: async () => records,
    verify: async () => ({ ok: true, count: 0, head: undefined, problems: [] }),
  },
} as unknown as AdminApiDeps)

function call<Req>(method: keyof typeof handlers, request: Req): Promise<{ err: unknown; res: unknown }> {
  const h = handlers[method] as unknown as (
    c: ServerUnaryCall<Req, unknown>,
    cb: sendUnaryData<unknown>,
  ) => void
  return new Promise((resolve) =>
    h({ request } as ServerUnaryCall<Req, unknown>, (err, res) => resolve({ err, res })),
  )
}

const listRequest = {
  since_seconds: 0,
  spiffe_id: '',
  task_id: '',
  decision: '',
  serial_or_jti: '',
  limit: 0,
}

t.test('a long answer keeps the newest records that fit, in order, and says so', async (t) => {
  const { res } = await call('ListAuditRecords', listRequest)
  const { records: kept, truncated } = res as {
    records: { seq: number; details: string }[]
    truncated: boolean
  }
  t.equal(truncated, true)
  t.ok(kept.length > 1000 && kept.length < 3000, `${kept.length} kept`)
  t.equal(kept[kept.length - 1]?.seq, 3000, 'the newest is kept')
  t.same(
    kept.map((r) => r.seq),
    Array.from({ length: kept.length }, (_, i) => 3001 - kept.length + i),
    'a contiguous run in chain order',
  )
  t.ok(JSON.stringify(kept).length < MAX_LISTED_AUDIT_BYTES * 1.2)
})

t.test('bad filters and anchors are INVALID_ARGUMENT', async (t) => {
  for (const [method, request] of [
    ['ListAuditRecords', { ...listRequest, decision: 'maybe' }],
    ['ListAuditRecords', { ...listRequest, since_seconds: -1 }],
    ['ListAuditRecords', { ...listRequest, limit: -5 }],
    ['VerifyAuditTrail', { anchor_seq: 3, anchor_hash: 'abc' }],
    ['VerifyAuditTrail', { anchor_seq: 0, anchor_hash: 'a'.repeat(64) }],
    ['ExplainSvid', { serial: '', jti: '' }],
    ['ExplainSvid', { serial: '0a', jti: 'j' }],
  ] as const) {
    const { err } = await call(method, request)
    t.match(err, { code: status.INVALID_ARGUMENT }, `${method} ${JSON.stringify(request).slice(0, 60)}`)
  }
})
