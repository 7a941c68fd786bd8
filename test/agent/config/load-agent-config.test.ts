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
  t.equal(c.maxConnectionsPerProcess, 128)
  t.equal(c.maxConnectionsPerUid, 1024)
  t.equal(c.maxStreamBacklogBytes, 262144)
  t.equal(config(['--max-streams-per-process', '8']).maxStreamsPerProcess, 8)
  t.equal(config([], { SIGIL_MAX_CONNECTIONS_PER_UID: '16' }).maxConnectionsPerUid, 16)
  const dir = t.testdir({ 'l.json': '{"max_stream_backlog_bytes": 65536, "max_streams_per_connection": 10}' })
  const f = config(['--config', join(dir, 'l.json')])
  t.equal(f.maxStreamBacklogBytes, 65536, 'a number in a JSON file')
  t.equal(f.maxStreamsPerConnection, 10)
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
