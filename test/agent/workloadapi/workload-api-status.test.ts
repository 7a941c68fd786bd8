// The Workload API's one error→status table is total over the error codes (a new code does
// not compile until it decides); INTERNAL codes reach the caller only as "internal error".
import { status } from '@grpc/grpc-js'
import t from 'tap'
import {
  ATTESTATION_FAILED,
  statusOf,
  WORKLOAD_STATUS_BY_CODE,
  WorkloadApiStatus,
} from '../../../agent/workloadapi/workload-api-status.js'
import { ERROR_CODES, type ErrorCode, SigilError } from '../../../certs/errors.js'

// Type-level: the table is a total map, not a Partial (this line fails to compile otherwise).
const total: { readonly [K in ErrorCode]-?: status } = WORKLOAD_STATUS_BY_CODE

const statuses = new Set(Object.values(status).filter((v) => typeof v === 'number'))

t.test('every error code maps to a gRPC status, and statusOf follows the table', async (t) => {
  for (const code of ERROR_CODES) {
    t.ok(statuses.has(total[code]), `${code} → ${status[total[code]]}`)
    t.not(total[code], status.OK, `${code} is not OK`)
    const s = statusOf(new SigilError(code, `detail of ${code}`))
    t.equal(s.code, total[code], code)
    t.equal(s.unexpected, total[code] === status.INTERNAL, `${code}: logged only when internal`)
    if (total[code] === status.INTERNAL) t.equal(s.details, 'internal error', `${code}: nothing leaks`)
  }
  t.same(Object.keys(WORKLOAD_STATUS_BY_CODE).sort(), [...ERROR_CODES].sort())
})

t.test('fixed messages: attestation failures, unknown errors, explicit statuses', async (t) => {
  const att = statusOf(new SigilError('ERR_ATTESTATION_FAILED', 'cannot read /proc/123/exe'))
  t.same(att, { code: status.PERMISSION_DENIED, details: ATTESTATION_FAILED, unexpected: false })
  t.same(statusOf(new Error('secret path')), {
    code: status.INTERNAL,
    details: 'internal error',
    unexpected: true,
  })
  t.same(statusOf(new WorkloadApiStatus(status.UNAVAILABLE, 'no bundle yet')), {
    code: status.UNAVAILABLE,
    details: 'no bundle yet',
    unexpected: false,
  })
})
