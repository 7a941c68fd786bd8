// `sigil-server` read with SPIRE's flags (issue 16, item 4): `entry create -spiffeID …` as a
// SPIRE operator types it, and the SPIRE flags Sigil cannot honour refused naming its option.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { type AdminFixture, startAdminFixture } from './admin-test-kit.js'

const WEB = 'spiffe://example.org/spire-style/web'
const AGENT = 'spiffe://example.org/sigil/agent/join_token/abc'

let f: AdminFixture
t.before(async () => {
  f = await startAdminFixture()
})
t.teardown(() => f.close())

t.test('entry create and show with SPIRE flags', async (t) => {
  const args = ['entry', 'create', '-spiffeID', WEB, '-parentID', AGENT, '-selector', 'unix:uid:1000']
  const created = await f.cli([...args, '-x509SVIDTTL', '3600', '-jwtSVIDTTL=300', '-dns', 'web.example.org'])
  t.equal(created.code, 0, created.stderr)
  // -socketPath is the admin socket (SPIRE's server API socket), here given only as a flag.
  const show = await f.cli(
    ['entry', 'show', '-spiffeID', WEB, '-output', 'json', '-socketPath', f.socketPath],
    {
      SIGIL_ADMIN_SOCKET: join(f.dir, 'nowhere.sock'),
    },
  )
  t.equal(show.code, 0, show.stderr)
  const { entries } = JSON.parse(show.stdout) as {
    entries: { spiffe_id: string; x509_svid_ttl: number; jwt_svid_ttl: number; dns_names: string[] }[]
  }
  t.equal(entries.length, 1)
  t.match(entries[0], {
    spiffe_id: WEB,
    x509_svid_ttl: 3600,
    jwt_svid_ttl: 300,
    dns_names: ['web.example.org'],
  })
})

t.test('SPIRE flags without a Sigil meaning here exit 2 naming the Sigil option, one line', async (t) => {
  const cases: [string[], RegExp][] = [
    [['entry', 'create', '-spiffeID', WEB, '-ttl', '60'], /use --x509-svid-ttl and --jwt-svid-ttl/],
    [
      ['entry', 'show', '-file', 'x.json'],
      /SPIRE's -file is Sigil's --file, which this command does not take/,
    ],
    [
      ['entry', 'count', '-spiffeID', WEB],
      /SPIRE's -spiffeID is Sigil's --spiffe-id, which this command does not take/,
    ],
    [['entry', 'create', '-downstream'], /SPIRE's -downstream is not an option here/],
    [['run', '-bindAddress', '0.0.0.0'], /use --agent-api-address HOST:PORT/],
    [['entry', 'show', '-bogusFlag', 'x'], /unknown option -bogusFlag/],
  ]
  for (const [args, message] of cases) {
    const r = await f.cli(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, message, args.join(' '))
    t.notMatch(r.stderr, /unexpected argument/i)
    t.equal(r.stderr.split('\n').length, 2, 'one line')
  }
})

t.test('run -config reads the file like --config', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-spire-flags-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'server.json')
  await writeFile(file, JSON.stringify({ 'trust-domain': 'Not A Domain!' }))
  const r = await f.cli(['run', '-config', file])
  t.equal(r.code, 2)
  t.match(r.stderr, /trust-domain/, 'the file was read')
})
