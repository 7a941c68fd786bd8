// The rough edges of `sigil-agent`'s command line (issue 12, item 9): subcommand help, an
// unknown option, `api watch --timeout`, honest healthcheck answers, trimmed connection
// errors, --version, required options marked in --help and the one JSON style.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Server, ServerCredentials } from '@grpc/grpc-js'
import t from 'tap'
import { ROOT } from '../../helpers/server-process.js'
import { tempDir } from '../sync/server-kit.js'
import { cli } from './cli-io.js'
import { startFakeWorkloadApi } from './fake-workload-api.js'

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string
}

t.test('api fetch --help and api validate --help show the subcommands, not an error', async (t) => {
  for (const group of ['fetch', 'validate']) {
    const r = await cli(['api', group, '--help'])
    t.equal(r.code, 0, r.stderr)
    t.equal(r.stderr, '')
    t.match(r.stdout, `usage: sigil-agent api ${group} <command> [options]`)
    t.match(r.stdout, group === 'fetch' ? /fetch x509[\s\S]*fetch jwt/ : /validate jwt/)
  }
  const full = await cli(['api', 'fetch', 'jwt', '--help'])
  t.equal(full.code, 0)
  t.match(full.stdout, 'sigil-agent api fetch jwt --audience A [options]')
  const bare = await cli(['api', 'fetch'])
  t.equal(bare.code, 2, 'a group without its subcommand is a usage error')
  const unknown = await cli(['api', 'fetch', 'pem'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /^sigil-agent api: unknown command "fetch pem"/)
})

t.test('an unknown option says so, with or without a value, and exits 2', async (t) => {
  for (const args of [
    ['api', 'fetch', 'x509', '--no-such', 'value'],
    ['api', 'fetch', 'x509', '--no-such'],
    ['api', 'fetch', 'x509', '--no-such=value'],
    ['healthcheck', '--no-such', 'value'],
    ['run', '--no-such', 'value'],
  ]) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, /unknown option --no-such/, args.join(' '))
    t.notMatch(r.stderr, /positional/, 'no talk of positional arguments')
    t.equal(r.stderr.split('\n').length, 2, 'one line')
  }
  const stray = await cli(['api', 'fetch', 'x509', 'stray'])
  t.equal(stray.code, 2)
  t.match(stray.stderr, /unexpected argument "stray"/)
})

t.test('api watch --timeout 3s stops by itself after the timeout, exit 0', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir)
  t.teardown(() => api.close())
  // No signal is passed: only the timeout can end the watch (the test's own deadline is tap's).
  const started = Date.now()
  const r = await cli(['api', 'watch', '--socket-path', api.socketPath, '--timeout', '3s'], {
    signal: AbortSignal.timeout(60_000),
  })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^Update #1 at /)
  t.ok(Date.now() - started >= 2_900, 'it watched until the timeout')
  t.ok(Date.now() - started < 60_000, 'the timeout, not the fallback signal, ended it')
})

t.test('healthcheck: healthy only on the expected probe answer, worded honestly', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir)
  t.teardown(() => api.close())
  const ok = await cli(['healthcheck', '--socket-path', api.socketPath])
  t.equal(ok.code, 0, ok.stderr)
  t.match(ok.stdout, /^Agent is healthy \(the Workload API at .* answered the probe as expected\)\.\n$/)
  t.notMatch(ok.stdout, /INVALID_ARGUMENT/)
  // Another answer is not health, whatever the status: here a gRPC server that is not a
  // Workload API at all answers UNIMPLEMENTED.
  const other = new Server()
  t.teardown(() => other.forceShutdown())
  const otherSocket = join(dir, 'not-an-agent.sock')
  await new Promise<void>((resolve, reject) =>
    other.bindAsync(`unix:${otherSocket}`, ServerCredentials.createInsecure(), (e) =>
      e ? reject(e) : resolve(),
    ),
  )
  const refused = await cli(['healthcheck', '--socket-path', otherSocket])
  t.equal(refused.code, 1, 'an unexpected answer is unhealthy')
  t.equal(refused.stdout, '')
  t.match(
    refused.stderr,
    /^sigil-agent healthcheck: unexpected answer from .* \(UNIMPLEMENTED: .*is this a Sigil agent\?\n$/,
  )
})

t.test('an unreachable socket is reported without grpc resolver noise', async (t) => {
  const dir = tempDir(t)
  const missing = join(dir, 'nothing-here.sock')
  for (const args of [['healthcheck'], ['api', 'fetch', 'x509']]) {
    const r = await cli([...args, '--socket-path', missing, '--timeout', '2s'])
    t.equal(r.code, 1)
    t.match(r.stderr, `cannot reach the Workload API at ${missing}`)
    t.notMatch(r.stderr, /Resolution note/, r.stderr)
    t.notMatch(r.stderr, /\(\s*\)|:\s*\)/, 'no empty parentheses left behind')
  }
})

t.test('--version and -v print the package version', async (t) => {
  for (const flag of ['--version', '-v']) {
    const r = await cli([flag])
    t.equal(r.code, 0)
    t.equal(r.stdout, `sigil-agent ${pkg.version}\n`)
  }
  t.match((await cli(['--help'])).stdout, '--version')
})

t.test('required options are marked "(required)" in --help', async (t) => {
  const jwt = await cli(['api', 'fetch', 'jwt', '--help'])
  t.match(jwt.stdout, /--audience=<aud>\s+Audience, repeat for several \(required\)/)
  const validate = await cli(['api', 'validate', 'jwt', '--help'])
  t.match(validate.stdout, /--audience=<aud>\s+The audience the token must be for \(required\)/)
  const missing = await cli(['api', 'validate', 'jwt', '--svid', '-'], { stdin: 'x.y.z' })
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--audience is required/)
})

t.test('--output json is one pretty JSON document (2-space indent), like sigil-server', async (t) => {
  const dir = tempDir(t)
  const api = await startFakeWorkloadApi(dir)
  t.teardown(() => api.close())
  const r = await cli(['healthcheck', '--socket-path', api.socketPath, '--output', 'json'])
  t.equal(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout)
  t.equal(r.stdout, `${JSON.stringify(doc, null, 2)}\n`, 'exactly JSON.stringify(value, null, 2)')
  const jwt = await cli([
    'api',
    'fetch',
    'jwt',
    '--audience',
    'db',
    '--socket-path',
    api.socketPath,
    '--output',
    'json',
  ])
  t.equal(jwt.code, 0, jwt.stderr)
  t.equal(jwt.stdout, `${JSON.stringify(JSON.parse(jwt.stdout), null, 2)}\n`)
})
