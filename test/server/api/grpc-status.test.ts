// The server's one error→status table is total over the error codes (a new code does not
// compile until it decides), and toGrpcError sends a SigilError's message but never an internal one.
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { ERROR_CODES, type ErrorCode, SigilError } from '../../../certs/errors.js'
import { grpcStatusFor, STATUS_BY_CODE, toGrpcError } from '../../../server/api/grpc-status.js'

// Type-level: the table is a total map, not a Partial (this line fails to compile otherwise).
const total: { readonly [K in ErrorCode]-?: status } = STATUS_BY_CODE

const statuses = new Set(Object.values(status).filter((v) => typeof v === 'number'))

t.test('every error code maps to a gRPC status, and only error codes are mapped', async (t) => {
  for (const code of ERROR_CODES) {
    t.ok(statuses.has(total[code]), `${code} → ${status[total[code]]}`)
    t.equal(grpcStatusFor(code), total[code])
    t.not(total[code], status.OK, `${code} is not OK`)
  }
  t.same(Object.keys(STATUS_BY_CODE).sort(), [...ERROR_CODES].sort())
})

t.test('a SigilError carries its message and code; ERR_DATASTORE and non-Sigil errors do not', async (t) => {
  const log = { error: () => {}, warn: () => {} }
  const refused = toGrpcError(new SigilError('ERR_TOKEN_USED', 'join token already used'), log, 'M')
  t.equal(refused.code, status.PERMISSION_DENIED)
  t.equal(refused.details, 'join token already used')
  t.same(refused.metadata?.get('sigil-error-code'), ['ERR_TOKEN_USED'])
  for (const e of [new SigilError('ERR_DATASTORE', 'SQLITE_CORRUPT at /var/lib/x'), new Error('boom /etc')]) {
    const internal = toGrpcError(e, log, 'M')
    t.equal(internal.code, status.INTERNAL)
    t.equal(internal.details, 'internal error', 'nothing internal leaks')
  }
})
