// `--server-address` lists: parsing, the error naming the bad item, and the configuration sources.
import { join } from 'node:path'
import t from 'tap'
import { loadAgentConfig } from '../../../agent/config/load-agent-config.js'
import { MAX_SERVER_ADDRESSES, parseServerAddressList } from '../../../agent/config/server-address-list.js'

function config(args: string[], env: Record<string, string> = {}) {
  const r = loadAgentConfig(args, env)
  if (r.kind !== 'config') throw new Error('expected a config')
  return r.config
}

t.test('one address, several, names, IPv6, spaces around commas', async (t) => {
  t.same(parseServerAddressList('127.0.0.1:8081'), ['127.0.0.1:8081'])
  t.same(parseServerAddressList('10.0.0.5:8081,10.0.0.6:8081'), ['10.0.0.5:8081', '10.0.0.6:8081'])
  t.same(parseServerAddressList(' sigil-a.internal:8081 , [::1]:9000,sigil-b:1 '), [
    'sigil-a.internal:8081',
    '[::1]:9000',
    'sigil-b:1',
  ])
  t.same(parseServerAddressList('localhost:65535'), ['localhost:65535'])
})

t.test('a bad item is named by position and text', async (t) => {
  const bad: [string, RegExp][] = [
    ['x', /^server-address: "x" is not host:port/],
    ['a:1,b', /^server-address: item 2 "b" is not host:port/],
    ['a:1,,b:2', /^server-address: item 2 is empty/],
    ['a:1,', /^server-address: item 2 is empty/],
    ['', /^server-address: item 1 is empty/],
    ['a:1,b:70000', /^server-address: item 2 "b:70000": the port must be between 1 and 65535/],
    ['a:0', /^server-address: "a:0": the port must be between 1 and 65535/],
    ['a:1,A:1', /^server-address: item 2 "A:1" is listed twice/],
    ['::1:8081', /is not host:port/],
    ['http://a:1', /is not host:port/],
    ['a b:1', /is not host:port/],
  ]
  for (const [input, message] of bad) {
    t.throws(
      () => parseServerAddressList(input),
      { code: 'ERR_CONFIG_INVALID', message },
      JSON.stringify(input),
    )
  }
  const many = Array.from({ length: MAX_SERVER_ADDRESSES + 1 }, (_, i) => `10.0.0.${i % 250}:${8000 + i}`)
  t.throws(() => parseServerAddressList(many.join(',')), { code: 'ERR_CONFIG_INVALID', message: /at most/ })
})

t.test('the agent configuration: default, flag, environment and file', async (t) => {
  const d = config([])
  t.equal(d.serverAddress, '127.0.0.1:8081', 'the single default is unchanged')
  t.same(d.serverAddresses, ['127.0.0.1:8081'])
  const flag = config(['--server-address', '10.0.0.5:8081, 10.0.0.6:8081'])
  t.same(flag.serverAddresses, ['10.0.0.5:8081', '10.0.0.6:8081'])
  t.equal(flag.serverAddress, '10.0.0.5:8081,10.0.0.6:8081')
  t.same(config([], { SIGIL_SERVER_ADDRESS: 'a:1,b:2' }).serverAddresses, ['a:1', 'b:2'])
  const dir = t.testdir({ 'a.toml': 'server_address = "s1.internal:8081,s2.internal:8081"\n' })
  t.same(config(['--config', join(dir, 'a.toml')]).serverAddresses, ['s1.internal:8081', 's2.internal:8081'])
  t.throws(() => config(['--server-address', '10.0.0.5:8081,nope']), {
    code: 'ERR_CONFIG_INVALID',
    message: /^server-address: item 2 "nope" is not host:port/,
  })
})
