// proto/grpc-status.ts names the gRPC status codes without loading grpc-js: the same
// numbers as grpc-js's `status` enum, every one of them.
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { GrpcStatus, grpcStatusName } from '../../proto/grpc-status.js'

t.test('the codes are grpc-js status values, all of them', async (t) => {
  const fromGrpc = Object.fromEntries(Object.entries(status).filter(([, v]) => typeof v === 'number'))
  t.same({ ...GrpcStatus }, fromGrpc)
})

t.test('grpcStatusName names a code, or returns the number', async (t) => {
  t.equal(grpcStatusName(status.PERMISSION_DENIED), 'PERMISSION_DENIED')
  t.equal(grpcStatusName(0), 'OK')
  t.equal(grpcStatusName(99), '99')
})
