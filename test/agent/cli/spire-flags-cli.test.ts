// `sigil-agent` read with SPIRE's flags (issue 16, item 4): `api fetch x509 -socketPath S`
// as a SPIRE operator types it; a token on the command line (`-svid TOKEN`, `-joinToken T`)
// is refused like its Sigil spelling, without echoing it.
import t from 'tap'
import { tempDir } from '../sync/server-kit.js'
import { cli } from './cli-io.js'
import { startFakeWorkloadApi } from './fake-workload-api.js'

t.test('api fetch x509 and fetch jwt with SPIRE flags', async (t) => {
  const api = await startFakeWorkloadApi(tempDir(t))
  t.teardown(() => api.close())
  const x509 = await cli([
    'api',
    'fetch',
    'x509',
    '-socketPath',
    api.socketPath,
    '-output',
    'json',
    '-timeout',
    '5s',
  ])
  t.equal(x509.code, 0, x509.stderr)
  t.match(JSON.parse(x509.stdout), { svids: [{ spiffe_id: 'spiffe://example.org/web' }] })
  const jwt = await cli(['api', 'fetch', 'jwt', '-audience', 'db', `-socketPath=${api.socketPath}`])
  t.equal(jwt.code, 0, jwt.stderr)
})

t.test('secrets given through SPIRE flags are refused like the Sigil ones, never echoed', async (t) => {
  const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'
  const svid = await cli(['api', 'validate', 'jwt', '-audience', 'db', '-svid', token])
  t.equal(svid.code, 2)
  t.notMatch(svid.stderr, token)
  const join = await cli(['run', '-joinToken', 'secret-join-token', '-trustDomain', 'example.org'])
  t.equal(join.code, 2)
  t.match(join.stderr, /--join-token is refused on the command line/)
  t.notMatch(join.stderr, 'secret-join-token')
})

t.test('SPIRE flags without a Sigil meaning here exit 2 naming the Sigil option, one line', async (t) => {
  const cases: [string[], RegExp][] = [
    [['healthcheck', '-shallow'], /SPIRE's -shallow is not an option here/],
    [['run', '-serverAddress', 'localhost', '-serverPort', '8081'], /use --server-address HOST:PORT/],
    [['api', 'fetch', 'x509', '-silent'], /SPIRE's -silent is not an option here: use --output json/],
    [['api', 'fetch', 'jwt', '-audience', 'db', '-spiffeId', 'x'], /unknown option -spiffeId/],
  ]
  for (const [args, message] of cases) {
    const r = await cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, message, args.join(' '))
    t.notMatch(r.stderr, /unexpected argument/i)
    t.equal(r.stderr.split('\n').length, 2, 'one line')
  }
})
