// Interop evidence from another gRPC stack: py_workload_client.py (Python grpcio + cryptography,
// py-spiffe's own dependencies, from Debian) calls a real agent's Workload API and applies the
// checks py-spiffe/go-spiffe apply to X509-SVIDs, JWT-SVIDs and bundles. Missing Debian packages
// fail this test (CI installs them); they never skip it.
import { execFile, execFileSync } from 'node:child_process'
import { createPrivateKey } from 'node:crypto'
import { join } from 'node:path'
import {
  credentials,
  Metadata,
  Server,
  ServerCredentials,
  type ServerWritableStream,
  type ServiceError,
  status,
} from '@grpc/grpc-js'
import t from 'tap'
import type { X509SVIDResponse__Output } from '../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi } from '../../proto/loader.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { ROOT } from '../helpers/server-process.js'

const PYTHON = '/usr/bin/python3'
const SCRIPT = join(ROOT, 'test/interop/py_workload_client.py')
const ID = 'spiffe://example.org/interop/python'

/** Python modules the client imports, with the Debian package that provides each. */
const MODULES: readonly (readonly [string, string])[] = [
  ['grpc', 'python3-grpcio'],
  ['grpc_tools.protoc', 'python3-grpc-tools'],
  ['google.protobuf', 'python3-protobuf'],
  ['cryptography.hazmat.primitives.asymmetric.utils', 'python3-cryptography'],
]

/** The Debian packages whose modules `/usr/bin/python3` cannot import. */
function missingPackages(): string[] {
  const missing: string[] = []
  for (const [module, pkg] of MODULES) {
    try {
      execFileSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' })
    } catch {
      missing.push(pkg)
    }
  }
  return missing
}

interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

function runClient(endpoint: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', SPIFFE_ENDPOINT_SOCKET: endpoint }
    execFile(PYTHON, [SCRIPT], { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

const missing = missingPackages()
if (missing.length > 0) {
  t.fail(`${PYTHON} lacks Python modules; install: apt-get install -y ${missing.join(' ')}`)
} else {
  const node = await startSigilNode(t)
  await node.createEntry(ID, ['unix:uid:0'])

  for (const endpoint of [`unix://${node.agent.socketPath}`, `unix:${node.agent.socketPath}`]) {
    t.test(`the Python client passes every check via ${endpoint.slice(0, 7)}…`, async (t) => {
      const run = await runClient(endpoint)
      t.equal(run.code, 0, `exit 0; stderr: ${run.stderr}; stdout: ${run.stdout}`)
      const summary = JSON.parse(run.stdout) as Record<string, unknown>
      t.same(summary.failures, [], 'no failed checks')
      t.equal(summary.ok, true)
      t.equal(summary.spiffe_id, ID, 'default identity')
      const checks = summary.checks as Record<string, unknown>
      for (const name of [
        'x509[0].uri_san_equals_spiffe_id',
        'x509[0].leaf_not_ca',
        'x509[0].leaf_digital_signature',
        'x509[0].leaf_no_cert_or_crl_sign',
        'x509[0].key_matches_leaf',
        'x509[0].chain_verifies_against_bundle',
        'x509_bundles.has_own_td',
        'jwt.alg_es256',
        'jwt.kid_in_bundle',
        'jwt.aud_is_list_with_audience',
        'jwt.signature_verifies',
        'validate.spiffe_id',
        'no_header.FetchX509SVID_invalid_argument',
        'no_header.FetchJWTSVID_invalid_argument',
      ])
        t.equal(checks[name], true, name)
      t.same(summary.no_header, { FetchX509SVID: 'INVALID_ARGUMENT', FetchJWTSVID: 'INVALID_ARGUMENT' })
      const jwt = summary.jwt as { aud: unknown; sub: unknown }
      t.same(jwt.aud, ['interop'], 'aud is a JSON array')
      t.equal(jwt.sub, ID)
    })
  }

  t.test('the client fails an endpoint that breaks the wire rules', async (t) => {
    // The agent's real SVID, re-served by a fake endpoint with a SEC1 key and a spiffe_id that
    // differs from the SAN: the client must flag both (so the checks above can fail at all).
    const api = loadWorkloadApi()
    const client = new api.Client(`unix:${node.agent.socketPath}`, credentials.createInsecure())
    const md = new Metadata()
    md.set('workload.spiffe.io', 'true')
    const real = await new Promise<X509SVIDResponse__Output>((resolve, reject) => {
      const call = client.FetchX509SVID({}, md)
      call.on('data', (m: X509SVIDResponse__Output) => {
        resolve(m)
        call.cancel()
      })
      call.on('error', (err: ServiceError) => (err.code === status.CANCELLED ? undefined : reject(err)))
    })
    client.close()
    const svid = real.svids[0]
    if (!svid) throw new Error('the agent sent no SVID')
    const sec1 = createPrivateKey({ key: svid.x509_svid_key, format: 'der', type: 'pkcs8' }).export({
      format: 'der',
      type: 'sec1',
    })
    const server = new Server()
    server.addService(api.service, {
      FetchX509SVID: (call: ServerWritableStream<unknown, unknown>) => {
        call.write({ svids: [{ ...svid, spiffe_id: `${svid.spiffe_id}x`, x509_svid_key: sec1 }] })
        call.end()
      },
    })
    const socket = join(node.dir, 'fake.sock')
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${socket}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    )
    t.teardown(() => server.forceShutdown())
    const run = await runClient(`unix://${socket}`)
    t.equal(run.code, 1, `exit 1; stderr: ${run.stderr}`)
    const summary = JSON.parse(run.stdout) as { ok: boolean; checks: Record<string, unknown> }
    t.equal(summary.ok, false)
    t.match(summary.checks['x509[0].key_is_pkcs8_der'], /^FAIL/, 'SEC1 key flagged')
    t.match(summary.checks['x509[0].uri_san_equals_spiffe_id'], /^FAIL/, 'spiffe_id != SAN flagged')
    t.equal(summary.checks['x509[0].chain_verifies_against_bundle'], true, 'the real chain still verifies')
    t.match(summary.checks.rpc, /^FAIL: UNIMPLEMENTED/, 'a missing RPC is a failure too')
  })
}
