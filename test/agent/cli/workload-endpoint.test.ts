// SPIFFE_ENDPOINT_SOCKET parsing (SPIFFE.md §5.1) and the flag > env > default precedence.
import t from 'tap'
import {
  DEFAULT_WORKLOAD_SOCKET,
  parseEndpointSocket,
  resolveWorkloadSocket,
} from '../../../agent/cli/workload-endpoint.js'

t.test('valid unix forms', async (t) => {
  const ok: [string, string][] = [
    ['unix:///tmp/agent.sock', '/tmp/agent.sock'],
    ['unix:/tmp/agent.sock', '/tmp/agent.sock'],
    ['unix:///run/sigil/public/api.sock', '/run/sigil/public/api.sock'],
    ['unix:///tmp/with%20space.sock', '/tmp/with space.sock'],
  ]
  for (const [input, path] of ok) t.equal(parseEndpointSocket(input), path, input)
})

t.test('invalid forms are refused with ERR_CONFIG_INVALID', async (t) => {
  const bad: [string, RegExp][] = [
    ['unix://host/tmp/agent.sock', /must not name a host/],
    ['unix:agent.sock', /absolute/],
    ['unix:./agent.sock', /absolute/],
    ['unix:', /absolute/],
    ['unix:///', /absolute socket path/],
    ['unix:///tmp/a.sock?x=1', /query/],
    ['unix:///tmp/a.sock#frag', /fragment/],
    ['unix://user@host/tmp/a.sock', /user info/],
    ['tcp://127.0.0.1:8000', /TCP endpoints are not supported/],
    ['/tmp/agent.sock', /not a URI|scheme/],
    ['http://localhost/x', /unsupported scheme/],
    ['not a uri', /not a URI/],
  ]
  for (const [input, why] of bad) {
    t.throws(() => parseEndpointSocket(input), { code: 'ERR_CONFIG_INVALID', message: why }, input)
  }
})

t.test('precedence: --socket-path, then SPIFFE_ENDPOINT_SOCKET, then the default', async (t) => {
  const env = { SPIFFE_ENDPOINT_SOCKET: 'unix:///from/env.sock' }
  t.equal(resolveWorkloadSocket('/from/flag.sock', env), '/from/flag.sock')
  t.equal(resolveWorkloadSocket(undefined, env), '/from/env.sock')
  t.equal(resolveWorkloadSocket(undefined, {}), DEFAULT_WORKLOAD_SOCKET)
  t.equal(resolveWorkloadSocket(undefined, { SPIFFE_ENDPOINT_SOCKET: '' }), DEFAULT_WORKLOAD_SOCKET)
  t.equal(DEFAULT_WORKLOAD_SOCKET, '/tmp/sigil-agent/public/api.sock')
  t.throws(() => resolveWorkloadSocket(undefined, { SPIFFE_ENDPOINT_SOCKET: 'tcp://127.0.0.1:1' }), {
    code: 'ERR_CONFIG_INVALID',
  })
})
