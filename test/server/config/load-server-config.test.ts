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
