// Interop evidence from Go's gRPC stack and crypto/x509 (the parsers go-spiffe uses):
// go_workload_client.go is built at run time in GOPATH mode against Debian's Go packages, with
// stubs protoc generates from our proto, then calls a real agent's Workload API. Missing Debian
// packages fail this test (CI installs them); they never skip it.
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { startSigilNode } from '../helpers/agent-process.js'
import { ROOT } from '../helpers/server-process.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const ID = 'spiffe://example.org/interop/go'
const GOCODE = '/usr/share/gocode'

/** A file each Debian package installs, to name the missing ones. */
const REQUIRED: readonly (readonly [string, string])[] = [
  ['/usr/bin/go', 'golang-go'],
  ['/usr/bin/protoc', 'protobuf-compiler'],
  ['/usr/bin/protoc-gen-go', 'protoc-gen-go'],
  ['/usr/bin/protoc-gen-go-grpc', 'protoc-gen-go-grpc'],
  [`${GOCODE}/src/google.golang.org/grpc/server.go`, 'golang-google-grpc-dev'],
  [`${GOCODE}/src/google.golang.org/protobuf/proto/proto.go`, 'golang-google-protobuf-dev'],
  // grpc-go 1.33's codec calls github.com/golang/protobuf; only its 1.5 line (APIv2 underneath)
  // handles protoc-gen-go's APIv2 messages. With the 1.3 package, the client panics on decode.
  [`${GOCODE}/src/github.com/golang/protobuf/proto/registry.go`, 'golang-github-golang-protobuf-1-5-dev'],
]

interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

function run(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { ...opts, timeout: 240_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/** Generates the stubs and builds the client in a temp GOPATH; resolves the binary's path. */
async function buildClient(dir: string): Promise<string> {
  const pkg = join(dir, 'src', 'sigilinterop')
  mkdirSync(pkg, { recursive: true })
  copyFileSync(join(HERE, 'go_workload_client.go'), join(pkg, 'main.go'))
  const m = 'Mspiffe/workload/workload.proto=sigilinterop/workloadpb'
  const src = join(dir, 'src')
  const gen = await run(
    '/usr/bin/protoc',
    [
      '-I',
      'proto',
      `--go_out=${src}`,
      `--go_opt=${m}`,
      `--go-grpc_out=${src}`,
      `--go-grpc_opt=${m}`,
      'proto/spiffe/workload/workload.proto',
    ],
    { cwd: ROOT },
  )
  if (gen.code !== 0) throw new Error(`protoc failed: ${gen.stderr}`)
  const bin = join(dir, 'client')
  // GOPATH mode: the module proxy is unreachable, Debian's sources live in /usr/share/gocode.
  const env = { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOPATH: `${dir}:${GOCODE}` }
  const built = await run('/usr/bin/go', ['build', '-o', bin, '.'], { cwd: pkg, env })
  if (built.code !== 0) throw new Error(`go build failed: ${built.stderr}`)
  return bin
}

const missing = REQUIRED.filter(([file]) => !existsSync(file)).map(([, pkg]) => pkg)
if (missing.length > 0) {
  t.fail(`the Go interop client needs Debian packages; install: apt-get install -y ${missing.join(' ')}`)
} else {
  // A cold `go build` of grpc-go takes about a minute; later runs hit the Go build cache.
  t.setTimeout(300_000)
  const dir = mkdtempSync(join(tmpdir(), 'sigil-go-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bin = await buildClient(dir)
  const node = await startSigilNode(t)
  await node.createEntry(ID, ['unix:uid:0'])

  t.test('the Go client passes every check', async (t) => {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      SPIFFE_ENDPOINT_SOCKET: `unix://${node.agent.socketPath}`,
    }
    const result = await run(bin, [], { env })
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
