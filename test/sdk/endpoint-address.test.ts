// SPIFFE_ENDPOINT_SOCKET parsing (SPIFFE.md §5.1): the spec's table, row by row.
import t from 'tap'
import {
  ENDPOINT_SOCKET_ENV,
  grpcTarget,
  parseEndpointAddress,
  resolveEndpointAddress,
} from '../../sdk/endpoint-address.js'

t.test('valid addresses', async (t) => {
  const table: [string, unknown][] = [
    ['unix:///tmp/agent.sock', { network: 'unix', path: '/tmp/agent.sock' }],
    ['unix:/tmp/agent.sock', { network: 'unix', path: '/tmp/agent.sock' }],
    ['unix:///run/a%20b/api.sock', { network: 'unix', path: '/run/a b/api.sock' }],
    ['tcp://127.0.0.1:8000', { network: 'tcp', host: '127.0.0.1', port: 8000 }],
    ['tcp://[::1]:8000', { network: 'tcp', host: '::1', port: 8000 }],
  ]
  for (const [value, want] of table) t.same(parseEndpointAddress(value), want, value)
})

t.test('invalid addresses are refused with ERR_CONFIG_INVALID', async (t) => {
  const table = [
    'unix://host/tmp/agent.sock', // authority
    'unix:agent.sock', // relative
    'unix:', // no path
    'unix:///', // no socket file
    'unix:///tmp/agent.sock?x=1', // query
    'unix:///tmp/agent.sock#frag', // fragment
    'tcp://127.0.0.1:8000/foo', // path
    'tcp://127.0.0.1:8000/', // path
    'tcp://localhost:8000', // not an IP
    'tcp://127.0.0.1', // no port
    'tcp://user@127.0.0.1:8000', // user info
    'http://127.0.0.1:8000', // scheme
    '/tmp/agent.sock', // not a URI
    '', // empty
  ]
  for (const value of table)
    t.throws(() => parseEndpointAddress(value), { code: 'ERR_CONFIG_INVALID' }, value)
})

t.test('explicit address first, then the environment, else a clear error', async (t) => {
  const env = { [ENDPOINT_SOCKET_ENV]: 'unix:///from/env.sock' }
  t.same(resolveEndpointAddress(undefined, env), { network: 'unix', path: '/from/env.sock' })
  t.same(resolveEndpointAddress('/explicit.sock', env), { network: 'unix', path: '/explicit.sock' })
  t.same(resolveEndpointAddress('tcp://127.0.0.1:9', env), { network: 'tcp', host: '127.0.0.1', port: 9 })
  t.throws(() => resolveEndpointAddress(undefined, {}), { code: 'ERR_CONFIG_INVALID' })
  t.throws(() => resolveEndpointAddress(undefined, { [ENDPOINT_SOCKET_ENV]: 'unix:rel' }), {
    code: 'ERR_CONFIG_INVALID',
  })
  t.throws(() => resolveEndpointAddress(''), TypeError)
})

t.test('gRPC targets', async (t) => {
  t.equal(grpcTarget({ network: 'unix', path: '/tmp/a.sock' }), 'unix:/tmp/a.sock')
  t.equal(grpcTarget({ network: 'tcp', host: '127.0.0.1', port: 1 }), 'ipv4:127.0.0.1:1')
  t.equal(grpcTarget({ network: 'tcp', host: '::1', port: 2 }), 'ipv6:[::1]:2')
})
