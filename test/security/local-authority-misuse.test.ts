// Misuse of forced rotation and the log level, against the real sigil-server process through a
// raw gRPC client on the admin socket (what a script would use instead of the CLI): revoking or
// tainting the active authority would cut every workload of the trust domain off at once, and
// revoking an authority nobody tainted would do the same to every SVID it signed before agents
// re-issued them; both are refused (FAILED_PRECONDITION) and the bundle stays as it was. A
// malformed kind or authority ID (a megabyte, control characters) is INVALID_ARGUMENT and the
// server answers the next call; `logger set` takes only debug|info|warn|error (never pino's
// `silent`, which would switch the audit trail off), and raising the level leaves its trace.
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { type ServerProcess, shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { waitUntil } from '../helpers/wait-until.js'
import { rawAdminClient } from './harness.js'

/** The fields of the answers this test reads. */
interface Answer {
  readonly active?: { readonly authority_id: string }
  readonly authority?: { readonly authority_id: string }
  readonly current_level?: string
  readonly launch_level?: string
}

let server: ServerProcess
let admin: ReturnType<typeof rawAdminClient<Answer>>
t.before(async () => {
  server = await startServerProcess(shortTempDir(t))
  admin = rawAdminClient<Answer>(server.adminSocket)
})
t.teardown(async () => {
  admin?.close()
  await server?.stop()
})

const call = (method: Parameters<typeof admin.call>[0], request: object) => admin.call(method, request)

async function bundleText(): Promise<string> {
  const r = await server.cli('bundle', 'show', '--format', 'spiffe')
  return r.stdout
}

t.test('the active (or an untainted) authority is never revoked or tainted', async (t) => {
  for (const kind of ['x509', 'jwt']) {
    const before = await bundleText()
    const shown = await call('GetLocalAuthorities', { kind })
    const active = shown.res?.active?.authority_id ?? ''
    for (const method of ['TaintLocalAuthority', 'RevokeLocalAuthority'] as const) {
      const r = await call(method, { kind, authority_id: active })
      t.equal(r.err?.code, status.FAILED_PRECONDITION, `${kind} ${method} of the active authority`)
    }
    const prepared = (await call('PrepareLocalAuthority', { kind })).res?.authority?.authority_id ?? ''
    for (const method of ['TaintLocalAuthority', 'RevokeLocalAuthority'] as const) {
      const r = await call(method, { kind, authority_id: prepared })
      t.equal(r.err?.code, status.FAILED_PRECONDITION, `${kind} ${method} of the prepared authority`)
    }
    t.equal((await call('ActivateLocalAuthority', { kind, authority_id: prepared })).err, undefined)
    const untainted = await call('RevokeLocalAuthority', { kind, authority_id: active })
    t.equal(untainted.err?.code, status.FAILED_PRECONDITION, `${kind}: revoke before taint`)
    t.match(untainted.err?.details, /taint it first/)
    const after = JSON.parse(await bundleText())
    const keysBefore = JSON.parse(before).keys.length as number
    t.equal(after.keys.length, keysBefore + 1, `${kind}: nothing left the bundle (the prepared one joined)`)
  }
})

t.test('malformed kinds and authority IDs are INVALID_ARGUMENT; the server answers on', async (t) => {
  const cases: [string, object][] = [
    ['unknown kind', { kind: 'wit', authority_id: 'a' }],
    ['empty kind', { kind: '', authority_id: 'a' }],
    ['a half-megabyte ID', { kind: 'x509', authority_id: 'a'.repeat(1 << 19) }],
    ['control characters', { kind: 'jwt', authority_id: 'abc\n{"level":"error","msg":"forged"}' }],
    ['empty ID', { kind: 'x509', authority_id: '' }],
  ]
  for (const [name, req] of cases) {
    const r = await call('TaintLocalAuthority', req)
    t.equal(r.err?.code, status.INVALID_ARGUMENT, name)
    t.ok((r.err?.details.length ?? 0) < 300, `${name}: a short message`)
    t.notMatch(r.err?.details ?? '', /forged/, `${name}: the input is not echoed`)
  }
  const next = await call('GetLocalAuthorities', { kind: 'x509' })
  t.equal(next.err, undefined, 'the next call on the same channel is answered')
  t.notOk(
    server.logs.some((l) => l.msg === 'forged'),
    'no forged log line',
  )
})

t.test('logger set takes only debug|info|warn|error; raising the level is logged first', async (t) => {
  for (const level of ['silent', 'fatal', 'trace', '', 'INFO', 'x'.repeat(1 << 16)]) {
    const r = await call('SetLogLevel', { level })
    t.equal(r.err?.code, status.INVALID_ARGUMENT, `level ${JSON.stringify(level.slice(0, 10))}`)
  }
  t.same((await call('GetLogger', {})).res, { current_level: 'info', launch_level: 'info' }, 'unchanged')
  const raised = await call('SetLogLevel', { level: 'error' })
  t.same(raised.res, { current_level: 'error', launch_level: 'info' })
  await waitUntil('the change in the server log', () =>
    server.logs.some((l) => l.msg === 'log level changed by an operator' && l.new_level === 'error'),
  )
  t.same((await call('ResetLogLevel', {})).res, { current_level: 'info', launch_level: 'info' })
})
