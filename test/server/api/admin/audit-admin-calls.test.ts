// auditAdminCalls: every admin call recorded with its caller, request (secrets dropped) and
// outcome; a minted SVID is released only once its record is stored, and a call whose record
// cannot be stored is still answered unless it issued an SVID.
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { SigilError } from '../../../../certs/errors.js'
import type { AdminAPIHandlers } from '../../../../proto/loader.js'
import { auditAdminCalls } from '../../../../server/api/admin/audit-admin-calls.js'
import type { AuditEvent } from '../../../../server/audit/audit-trail.js'
import type { AuditRecord } from '../../../../server/datastore/datastore.js'

type Unary = (call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => void
const quiet = { debug() {}, info() {}, warn() {}, error() {} }

function setup(handlers: Record<string, Unary>, fail = false) {
  const events: AuditEvent[] = []
  const audit = {
    record: async (e: AuditEvent) => {
      if (fail) throw new SigilError('ERR_DATASTORE_FULL', 'datastore: no space left (append audit records)')
      events.push(e)
      return {} as AuditRecord
    },
    note: () => {},
  }
  const wrapped = auditAdminCalls(handlers as unknown as AdminAPIHandlers, {
    audit,
    callerOf: (peer) => (peer === 'conn-1' ? { uid: 1000, pid: 4242, exe: '/usr/bin/node' } : undefined),
    logger: quiet,
  }) as unknown as Record<string, Unary>
  const call = (method: string, request: unknown) =>
    new Promise<{ err: unknown; res: unknown }>((resolve) =>
      wrapped[method]!(
        { request, getPeer: () => 'conn-1' } as ServerUnaryCall<unknown, unknown>,
        (err, res) => resolve({ err, res }),
      ),
    )
  return { events, call }
}

t.test('a call is recorded with its caller, subject, request without secrets, and outcome', async (t) => {
  const { events, call } = setup({
    CreateEntry: (_c, cb) => cb(null, { entry: { id: 'e1' } }),
    DeleteEntry: (_c, cb) =>
      cb({ code: status.NOT_FOUND, details: 'entry not found', name: '', message: '' }),
  })
  await call('CreateEntry', {
    entry: { spiffe_id: 'spiffe://example.org/w', selectors: [] },
    token: 'secret',
  })
  t.match(events[0], {
    kind: 'admin_operation',
    decision: 'allow',
    spiffeId: 'spiffe://example.org/w',
    actor: { uid: 1000, pid: 4242, exe: '/usr/bin/node' },
    details: { method: 'CreateEntry' },
  })
  const { err } = await call('DeleteEntry', { id: 'x' })
  t.match(err, { code: status.NOT_FOUND }, 'the outcome is unchanged')
  t.match(events[1], {
    decision: 'deny',
    details: { error: { code: 'NOT_FOUND', message: 'entry not found' } },
  })
})

t.test('a mint is recorded as the issuance, with the serial or jti', async (t) => {
  const payload = Buffer.from(JSON.stringify({ sub: 'spiffe://example.org/w', jti: 'j-1' })).toString(
    'base64url',
  )
  const { events, call } = setup({
    MintX509Svid: (_c, cb) => cb(null, { svid: { spiffe_id: 'spiffe://example.org/w', serial: '0a1b' } }),
    MintJwtSvid: (_c, cb) => cb(null, { token: `eyJhbGciOiJFUzI1NiJ9.${payload}.sig` }),
  })
  await call('MintX509Svid', { spiffe_id: 'spiffe://example.org/w', csr: Buffer.from('csr') })
  await call('MintJwtSvid', { spiffe_id: 'spiffe://example.org/w', audience: ['db'] })
  t.match(events[0], { kind: 'x509_svid_issued', serialOrJti: '0a1b', decision: 'allow' })
  t.match(events[1], { kind: 'jwt_svid_issued', serialOrJti: 'j-1', spiffeId: 'spiffe://example.org/w' })
})

t.test('unrecordable: a minted SVID is withheld; another call is still answered', async (t) => {
  const { call } = setup(
    {
      MintX509Svid: (_c, cb) => cb(null, { svid: { spiffe_id: 'spiffe://example.org/w', serial: '0a1b' } }),
      CountEntries: (_c, cb) => cb(null, { count: 3 }),
    },
    true,
  )
  const minted = await call('MintX509Svid', {})
  t.match(minted.err, { code: status.RESOURCE_EXHAUSTED })
  t.equal(minted.res, undefined, 'no SVID released')
  t.same(await call('CountEntries', {}), { err: null, res: { count: 3 } })
})
