// Interop evidence from Go's gRPC stack and crypto/x509 (the parsers go-spiffe uses):
// go_workload_client.go is built at run time in GOPATH mode against Debian's Go packages, with
// stubs protoc generates from our proto (scripts/lib/go-build.ts, shared with the cold-start
// benchmark), then calls a real agent's Workload API. Missing Debian packages fail this test (CI
// installs them); they never skip it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildGoWorkloadClient, missingGoPackages, runProgram } from '../../scripts/lib/go-build.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { ROOT } from '../helpers/server-process.js'

const ID = 'spiffe://example.org/interop/go'

const missing = missingGoPackages()
if (missing.length > 0) {
  t.fail(`the Go interop client needs Debian packages; install: apt-get install -y ${missing.join(' ')}`)
} else {
  // A cold `go build` of grpc-go takes about a minute; later runs hit the Go build cache.
  t.setTimeout(300_000)
  const dir = mkdtempSync(join(tmpdir(), 'sigil-go-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bin = await buildGoWorkloadClient({
    root: ROOT,
    source: join(ROOT, 'test/interop/go_workload_client.go'),
    dir,
    goPackage: 'sigilinterop',
  })
  const node = await startSigilNode(t)
  await node.createEntry(ID, ['unix:uid:0'])

  t.test('the Go client passes every check', async (t) => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SPIFFE_ENDPOINT_SOCKET: `unix://${node.agent.socketPath}`,
    }
    const result = await runProgram(bin, [], { env })
    t.equal(result.code, 0, `exit 0; stderr: ${result.stderr}; stdout: ${result.stdout}`)
    const summary = JSON.parse(result.stdout) as Record<string, unknown>
    t.same(summary.failures, [], 'no failed checks')
    t.equal(summary.ok, true)
    t.equal(summary.spiffe_id, ID, 'default identity')
    const checks = summary.checks as Record<string, unknown>
    for (const name of [
      'x509[0].parse_certificates',
      'x509[0].uri_san_equals_spiffe_id',
      'x509[0].leaf_not_ca',
      'x509[0].leaf_digital_signature',
      'x509[0].leaf_no_cert_or_crl_sign',
      'x509[0].key_is_pkcs8_der',
      'x509[0].key_matches_leaf',
      'x509[0].chain_verifies_against_bundle',
      'x509[0].tls_client_and_server_eku',
      'x509_bundles.own_td_equals_svid_bundle',
      'jwt.alg_es256',
      'jwt.kid_in_bundle',
      'jwt.jwk_p256_32_byte_coordinates',
      'jwt.signature_verifies',
      'validate.spiffe_id',
      'no_header.FetchX509SVID_invalid_argument',
      'no_header.FetchJWTSVID_invalid_argument',
    ])
      t.equal(checks[name], true, name)
    t.same(summary.no_header, { FetchX509SVID: 'InvalidArgument', FetchJWTSVID: 'InvalidArgument' })
    t.same((summary.jwt as { aud: unknown }).aud, ['interop'], 'aud is a JSON array')
  })
}
