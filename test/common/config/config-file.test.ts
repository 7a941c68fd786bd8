// The one config-file reader of both daemons: JSON or TOML, size cap, snake_case → kebab-case,
// numbers as strings, a nested `config` key refused (for both binaries alike).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isSigilError } from '../../../certs/errors.js'
import { MAX_CONFIG_BYTES, readConfigFile } from '../../../common/config/config-file.js'

const dir = mkdtempSync(join(tmpdir(), 'sigil-config-file-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return join(dir, name)
}

t.test('JSON and TOML give the same option values', async (t) => {
  const json = readConfigFile(file('a.json', '{"trust_domain":"example.org","sync_interval":5}'))
  const toml = readConfigFile(file('a.toml', 'trust_domain = "example.org"\nsync_interval = 5\n'))
  t.same(json, { 'trust-domain': 'example.org', 'sync-interval': '5' })
  t.same(toml, json)
})

t.test('bad files are ERR_CONFIG_INVALID naming the file', async (t) => {
  for (const [name, text, why] of [
    ['nested.json', '{"config":"other.json"}', /"config" cannot nest/],
    ['nested.toml', 'config = "x.toml"', /"config" cannot nest/],
    ['array.json', '[1]', /top level must be an object/],
    ['broken.json', '{', /config file .*broken\.json/],
    ['big.json', `{"a":"${'x'.repeat(MAX_CONFIG_BYTES)}"}`, /larger than/],
  ] as const) {
    let caught: unknown
    try {
      readConfigFile(file(name, text))
    } catch (e) {
      caught = e
    }
    t.ok(isSigilError(caught, 'ERR_CONFIG_INVALID'), `${name}: ERR_CONFIG_INVALID`)
    t.match((caught as Error).message, why, name)
  }
  t.throws(() => readConfigFile(join(dir, 'missing.json')), /config file .*missing\.json: ENOENT/)
})
