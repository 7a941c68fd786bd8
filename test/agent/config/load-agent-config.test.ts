import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { loadAgentConfig } from '../../../agent/config/load-agent-config.js'

function config(args: string[], env: Record<string, string> = {}) {
  const r = loadAgentConfig(args, env)
  if (r.kind !== 'config') throw new Error('expected a config')
  return r.config
}

t.test('defaults', async (t) => {
  const c = config([])
  t.equal(c.serverAddress, '127.0.0.1:8081')
  t.equal(c.socketPath, '/tmp/sigil-agent/public/api.sock')
  t.match(c.dataDir, /\.sigil\/agent$/)
  t.equal(c.syncIntervalMs, 5000)
  t.equal(c.rotationFraction, 0.5)
  t.equal(c.spareSvids, 64)
  t.equal(c.insecureBootstrap, false)
  t.equal(config(['--spare-svids', '0']).spareSvids, 0)
  t.equal(config([], { SIGIL_SPARE_SVIDS: '8' }).spareSvids, 8)
})

t.test('Workload API limits: defaults, flags, env and file', async (t) => {
  const c = config([])
  t.equal(c.maxStreamsPerConnection, 100)
  t.equal(c.maxStreamsPerProcess, 256)
  t.equal(c.maxStreamsPerUid, 4096)
  t.equal(c.maxConnectionsPerProcess, 128)
  t.equal(c.maxConnectionsPerUid, 1024)
  t.equal(c.maxStreamBacklogBytes, 262144)
  t.equal(config(['--max-streams-per-process', '8']).maxStreamsPerProcess, 8)
  t.equal(config(['--max-streams-per-uid', '9']).maxStreamsPerUid, 9)
  t.equal(config([], { SIGIL_MAX_CONNECTIONS_PER_UID: '16' }).maxConnectionsPerUid, 16)
  const dir = t.testdir({ 'l.json': '{"max_stream_backlog_bytes": 65536, "max_streams_per_connection": 10}' })
  const f = config(['--config', join(dir, 'l.json')])
  t.equal(f.maxStreamBacklogBytes, 65536, 'a number in a JSON file')
  t.equal(f.maxStreamsPerConnection, 10)
})

t.test('jwt-leeway: 30s by default, 0s to 5m, from flags, env and file', async (t) => {
  t.equal(config([]).jwtLeewaySeconds, 30)
  t.equal(config(['--jwt-leeway', '0s']).jwtLeewaySeconds, 0)
  t.equal(config(['--jwt-leeway', '5m']).jwtLeewaySeconds, 300)
  t.equal(config(['--jwt-leeway', '1500ms']).jwtLeewaySeconds, 1.5)
  t.equal(config([], { SIGIL_JWT_LEEWAY: '10' }).jwtLeewaySeconds, 10, 'bare number: seconds')
  const dir = t.testdir({ 'j.toml': 'jwt_leeway = 0\n' })
  t.equal(config(['--config', join(dir, 'j.toml')]).jwtLeewaySeconds, 0, 'a number in a TOML file')
})

t.test('precedence: defaults < file < env < flags', async (t) => {
  const dir = t.testdir({ 'a.toml': 'socket_path = "/file.sock"\nsync_interval = "2s"\n' })
  const f = join(dir, 'a.toml')
  t.equal(config(['--config', f]).socketPath, '/file.sock')
  t.equal(config(['--config', f]).syncIntervalMs, 2000)
  t.equal(config(['--config', f], { SIGIL_SOCKET_PATH: '/env.sock' }).socketPath, '/env.sock')
  t.equal(
    config(['--config', f, '--socket-path', '/flag.sock'], { SIGIL_SOCKET_PATH: '/env.sock' }).socketPath,
    '/flag.sock',
  )
})

t.test('invalid configuration names the option', async (t) => {
  const dir = t.testdir({ 'u.json': '{"nope": true}' })
  const cases: [string[], RegExp][] = [
    [['--server-address', 'x'], /server-address/],
    [['--sync-interval', 'often'], /sync-interval/],
    [['--jwt-leeway', '301s'], /jwt-leeway: at most 300s/],
    [['--jwt-leeway', '-1s'], /jwt-leeway/],
    [['--jwt-leeway', '1h'], /jwt-leeway/],
    [['--rotation-fraction', '2'], /rotation-fraction/],
    [['--spare-svids', '-1'], /spare-svids/],
    [['--spare-svids', '1.5'], /spare-svids/],
    [['--max-streams-per-connection', '0'], /max-streams-per-connection/],
    [['--max-streams-per-process', 'many'], /max-streams-per-process/],
    [['--max-connections-per-process', '-3'], /max-connections-per-process/],
    [['--max-connections-per-uid', '1e3'], /max-connections-per-uid/],
    [['--max-stream-backlog-bytes', '100'], /max-stream-backlog-bytes/],
    [['--trust-domain', 'A..b'], /trust-domain/],
    [['--x509pop-cert', 'c.pem'], /together/],
    [['--trust-bundle', 'b.pem', '--insecure-bootstrap'], /insecure-bootstrap/],
    [['--config', join(dir, 'u.json')], /nope/],
    [['--what'], /what/],
  ]
  for (const [args, msg] of cases) {
    t.throws(() => loadAgentConfig(args, {}), { code: 'ERR_CONFIG_INVALID', message: msg }, args.join(' '))
  }
})

// Attack: a join token on the command line is readable by every local user in /proc/<pid>/cmdline.
t.test('a join token in argv is refused, naming the alternatives and not the token', async (t) => {
  for (const args of [['--join-token', 'secret-1'], ['--join-token=secret-1']]) {
    t.throws(
      () => loadAgentConfig(args, {}),
      { code: 'ERR_CONFIG_INVALID', message: /--join-token-file.*SIGIL_JOIN_TOKEN/ },
      `${args.length} argv form`,
    )
    try {
      loadAgentConfig(args, {})
    } catch (e) {
      t.notMatch((e as Error).message, /secret-1/, 'the token is not echoed')
    }
  }
})

t.test('join token from SIGIL_JOIN_TOKEN, --join-token-file and a 0600 config file', async (t) => {
  const dir = t.testdir({
    token: 'file-token\n',
    'open-token': 'open-token',
    'a.json': '{"join_token":"cfg-token"}',
  })
  chmodSync(join(dir, 'token'), 0o600)
  chmodSync(join(dir, 'open-token'), 0o644)
  t.equal(config([], { SIGIL_JOIN_TOKEN: 'env-token' }).joinToken, 'env-token')
  const fromFile = loadAgentConfig(['--join-token-file', join(dir, 'token')], {})
  t.equal(fromFile.kind === 'config' && fromFile.config.joinToken, 'file-token', 'whitespace trimmed')
  t.same(fromFile.kind === 'config' && fromFile.warnings, [], 'a 0600 file draws no warning')
  t.equal(config([], { SIGIL_JOIN_TOKEN_FILE: join(dir, 'token') }).joinToken, 'file-token')
  const open = loadAgentConfig(['--join-token-file', join(dir, 'open-token')], {})
  t.equal(open.kind === 'config' && open.config.joinToken, 'open-token')
  const warnings = open.kind === 'config' ? open.warnings : []
  t.equal(warnings.length, 1)
  t.match(warnings[0], /readable by other users \(mode 0644\).*chmod 600/)
  chmodSync(join(dir, 'a.json'), 0o600)
  t.equal(config(['--config', join(dir, 'a.json')]).joinToken, 'cfg-token')
  chmodSync(join(dir, 'a.json'), 0o644)
  t.throws(() => loadAgentConfig(['--config', join(dir, 'a.json')], {}), {
    code: 'ERR_CONFIG_INVALID',
    message: /holds join_token but other users can read it \(mode 0644\)/,
  })
  t.throws(() => loadAgentConfig(['--join-token-file', join(dir, 'token')], { SIGIL_JOIN_TOKEN: 'x' }), {
    message: /choose one of join-token and join-token-file/,
  })
  t.throws(() => loadAgentConfig(['--join-token-file', join(dir, 'missing')], {}), {
    code: 'ERR_CONFIG_INVALID',
    message: /join-token-file .*missing: ENOENT/,
  })
})

t.test('metrics-address: off by default, host:port from flag or SIGIL_METRICS_ADDRESS', async (t) => {
  t.equal(config([]).metricsAddress, undefined)
  t.same(config(['--metrics-address', '127.0.0.1:9988']).metricsAddress, { host: '127.0.0.1', port: 9988 })
  t.same(config([], { SIGIL_METRICS_ADDRESS: '[::1]:0' }).metricsAddress, { host: '::1', port: 0 })
  t.throws(() => loadAgentConfig(['--metrics-address', '9988'], {}), {
    code: 'ERR_CONFIG_INVALID',
    message: /^metrics-address: /,
  })
})
