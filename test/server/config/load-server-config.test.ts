import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadServerConfig } from '../../../server/config/load-server-config.js'

function config(args: string[], env: Record<string, string> = {}) {
  const r = loadServerConfig(args, env)
  if (r.kind !== 'config') throw new Error('expected a config')
  return r.config
}

t.test('defaults serve a laptop', async (t) => {
  const c = config([])
  t.equal(c.trustDomain.name, 'example.org')
  t.match(c.dataDir, /\.sigil\/server$/)
  t.same(c.agentApiAddress, { host: '127.0.0.1', port: 8081 })
  t.same(c.bundleEndpointAddress, { host: '127.0.0.1', port: 8443 })
  t.equal(c.adminSocket, join(c.dataDir, 'private', 'admin.sock'))
  t.equal(c.x509SvidTtlSeconds, 3600)
  t.equal(c.jwtSvidTtlSeconds, 300)
  t.equal(c.caTtlSeconds, 86400)
  t.equal(c.caKeyType, 'ec-p256')
})

t.test('precedence: defaults < file < env < flags', async (t) => {
  const dir = t.testdir({
    'c.json': JSON.stringify({ 'trust-domain': 'file.org', data_dir: '/from-file', 'x509-svid-ttl': '30m' }),
    'c.toml': 'trust_domain = "toml.org"\nca_ttl = "48h"\n',
  })
  const f = join(dir, 'c.json')
  t.equal(config(['--config', f]).trustDomain.name, 'file.org')
  t.equal(config(['--config', f]).dataDir, '/from-file')
  t.equal(config(['--config', f]).x509SvidTtlSeconds, 1800)
  t.equal(config(['--config', f], { SIGIL_TRUST_DOMAIN: 'env.org' }).trustDomain.name, 'env.org')
  t.equal(
    config(['--config', f, '--trust-domain', 'flag.org'], { SIGIL_TRUST_DOMAIN: 'env.org' }).trustDomain.name,
    'flag.org',
  )
  const toml = config(['--config', join(dir, 'c.toml')])
  t.equal(toml.trustDomain.name, 'toml.org')
  t.equal(toml.caTtlSeconds, 48 * 3600)
})

t.test('invalid configuration is refused with the option named', async (t) => {
  const dir = t.testdir({ 'bad.json': '{"trust-domain": ', 'unknown.json': '{"bogus": 1}', 'arr.json': '[]' })
  const cases: [string[], RegExp][] = [
    [['--trust-domain', 'Bad.Org'], /trust-domain/],
    [['--agent-api-address', 'nope'], /agent-api-address/],
    [['--x509-svid-ttl', 'forever'], /x509-svid-ttl/],
    [['--log-level', 'loud'], /log-level/],
    [['--bogus'], /bogus/],
    [['--config', join(dir, 'bad.json')], /bad\.json/],
    [['--config', join(dir, 'unknown.json')], /bogus/],
    [['--config', join(dir, 'arr.json')], /object/],
    [['--config', join(dir, 'missing.json')], /missing\.json/],
    [['--upstream-ca-cert', '/x.pem'], /together/],
    [['--x509-svid-ttl', '48h'], /shorter than ca-ttl/],
  ]
  for (const [args, msg] of cases) {
    t.throws(() => loadServerConfig(args, {}), { code: 'ERR_CONFIG_INVALID', message: msg }, args.join(' '))
  }
})

t.test('--help prints the option table', async (t) => {
  const r = loadServerConfig(['--help'], {})
  t.equal(r.kind, 'help')
  if (r.kind === 'help') t.match(r.text, /--trust-domain/)
  writeFileSync(join(t.testdir(), 'x'), '')
})

t.test(
  'OIDC discovery options: issuer URL rules, the Host allow-list, plain HTTP only on loopback',
  async (t) => {
    const c = config([
      '--jwt-issuer',
      'https://OIDC.example.org/',
      '--oidc-discovery-domain',
      'Discovery.Example.net.',
      '--oidc-discovery-domain',
      '10.0.0.5',
      '--oidc-jwks-uri',
      'https://cdn.example.com/sigil/keys',
    ])
    t.equal(
      c.jwtIssuer,
      'https://OIDC.example.org/',
      'the issuer is kept as written (it is compared byte for byte)',
    )
    t.same(
      [...c.oidcDiscoveryDomains].sort(),
      ['10.0.0.5', 'cdn.example.com', 'discovery.example.net', 'oidc.example.org'],
      'configured names plus the issuer and jwks_uri hosts, lower case',
    )
    t.equal(c.oidcDiscoveryAddress, undefined, 'no listener of its own by default')
    const dir = t.testdir({
      'c.json': JSON.stringify({ oidc_discovery_domain: ['a.example.org', 'b.example.org'] }),
    })
    t.same(config(['--config', join(dir, 'c.json')]).oidcDiscoveryDomains, ['a.example.org', 'b.example.org'])
    t.same(config([], { SIGIL_OIDC_DISCOVERY_DOMAIN: 'e.example.org' }).oidcDiscoveryDomains, [
      'e.example.org',
    ])
    t.equal(
      config(['--jwt-issuer', 'http://127.0.0.1:8080']).jwtIssuer,
      'http://127.0.0.1:8080',
      'http on loopback',
    )
    const plain = config(['--oidc-discovery-address', '127.0.0.1:8080', '--oidc-discovery-plain-http'])
    t.same(
      [plain.oidcDiscoveryAddress, plain.oidcDiscoveryPlainHttp],
      [{ host: '127.0.0.1', port: 8080 }, true],
    )
    for (const [args, message] of [
      [['--jwt-issuer', 'oidc.example.org'], /jwt-issuer: "oidc.example.org" is not a URL/],
      [['--jwt-issuer', 'http://oidc.example.org'], /must be https/],
      [['--jwt-issuer', 'https://oidc.example.org#x'], /query or fragment/],
      [['--jwt-issuer', 'https://u:p@oidc.example.org'], /user info/],
      [['--oidc-jwks-uri', 'ftp://x.example.org/keys'], /oidc-jwks-uri: .* must be an https URL/],
      [['--oidc-discovery-domain', 'x.example.org:443'], /oidc-discovery-domain: .* is not a host name/],
      [['--oidc-discovery-plain-http'], /needs oidc-discovery-address/],
      [
        ['--oidc-discovery-address', '0.0.0.0:80', '--oidc-discovery-plain-http'],
        /only on a loopback address/,
      ],
    ] as const) {
      t.throws(() => config([...args]), { code: 'ERR_CONFIG_INVALID', message }, args.join(' '))
    }
  },
)

t.test('metrics-address: off by default, host:port from flag or SIGIL_METRICS_ADDRESS', async (t) => {
  t.equal(config([]).metricsAddress, undefined)
  t.same(config(['--metrics-address', '0.0.0.0:9988']).metricsAddress, { host: '0.0.0.0', port: 9988 })
  t.same(config([], { SIGIL_METRICS_ADDRESS: '127.0.0.1:0' }).metricsAddress, { host: '127.0.0.1', port: 0 })
  t.throws(() => loadServerConfig(['--metrics-address', 'localhost'], {}), {
    code: 'ERR_CONFIG_INVALID',
    message: /^metrics-address: /,
  })
})

t.test('datastore: SQLite in the data dir by default, sqlite:PATH, or a postgres:// URL', async (t) => {
  const defaults = config(['--data-dir', '/var/lib/sigil'])
  t.same(defaults.datastore, { kind: 'sqlite', path: '/var/lib/sigil/datastore.sqlite3' })
  t.same(config(['--datastore', 'sqlite:/srv/registry.db']).datastore, {
    kind: 'sqlite',
    path: '/srv/registry.db',
  })
  t.same(config(['--datastore', 'postgres://sigil@db.internal:5433/sigil?sslmode=require']).datastore, {
    kind: 'postgres',
    url: 'postgres://sigil@db.internal:5433/sigil?sslmode=require',
    poolSize: 10,
    statementTimeoutMs: 10_000,
  })
  const env = {
    SIGIL_DATASTORE: 'postgresql://sigil:pw@db/sigil',
    SIGIL_DATASTORE_POOL_SIZE: '25',
    SIGIL_DATASTORE_STATEMENT_TIMEOUT: '750ms',
  }
  t.same(config([], env).datastore, {
    kind: 'postgres',
    url: 'postgresql://sigil:pw@db/sigil',
    poolSize: 25,
    statementTimeoutMs: 750,
  })
  t.match(config(['--datastore-statement-timeout', '2m'], env).datastore, { statementTimeoutMs: 120_000 })
  const dir = t.testdir({ 'c.json': JSON.stringify({ datastore: 'postgres://sigil:pw@db/from_file' }) })
  t.match(config(['--config', join(dir, 'c.json')]).datastore, { url: 'postgres://sigil:pw@db/from_file' })

  for (const [args, message] of [
    [['--datastore', 'sqlite:'], /needs a file path/],
    [['--datastore', 'mysql://u@h/db'], /must be sqlite:PATH or a postgres/],
    [['--datastore', 'postgres://sigil@db'], /must name a database/],
    [['--datastore', 'postgres://sigil:pw@db/sigil'], /password on the command line/],
    [['--datastore=postgres://sigil:pw@db/sigil'], /password on the command line/],
    [['--datastore-pool-size', '0'], /datastore-pool-size/],
    [['--datastore-pool-size', 'many'], /datastore-pool-size/],
    [['--datastore-statement-timeout', '0ms'], /datastore-statement-timeout/],
    [['--datastore-statement-timeout', 'soon'], /datastore-statement-timeout/],
  ] as const) {
    t.throws(() => loadServerConfig([...args], env), { code: 'ERR_CONFIG_INVALID', message }, args.join(' '))
  }
})
