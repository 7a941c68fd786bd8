// `sigil-server validate --config F` (issue 16, item 4): a configuration file checked by the
// rules of `run` without starting anything.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runCaptured } from './admin-test-kit.js'

let dir: string
t.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sigil-validate-'))
})
t.teardown(() => rm(dir, { recursive: true, force: true }))

async function validate(name: string, text: string, env: Record<string, string> = {}) {
  const file = join(dir, name)
  await writeFile(file, text)
  return runCaptured(['validate', '--config', file], env)
}

t.test('a valid file: exit 0, "configuration is valid", nothing started', async (t) => {
  const json = await validate(
    'ok.json',
    JSON.stringify({ trust_domain: 'prod.example.org', 'ca-ttl': '48h' }),
  )
  t.same(json, { code: 0, stdout: 'configuration is valid\n', stderr: '' })
  const toml = await validate('ok.toml', 'trust_domain = "prod.example.org"\nlog_level = "debug"\n')
  t.equal(toml.code, 0, toml.stderr)
  // `run` would lay SIGIL_* over the file; validate judges the file alone.
  const env = await validate('env.json', '{}', { SIGIL_TRUST_DOMAIN: 'Not A Domain!' })
  t.equal(env.code, 0, env.stderr)
})

t.test('an invalid file: exit 2 and one line naming the problem', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['bad-td.json', JSON.stringify({ 'trust-domain': 'Not A Domain!' }), /trust-domain/],
    ['unknown.json', JSON.stringify({ 'no-such-option': 1 }), /no-such-option/],
    ['ttl.json', JSON.stringify({ 'x509-svid-ttl': '48h', 'ca-ttl': '24h' }), /shorter than ca-ttl/],
    ['syntax.json', '{ not json', /syntax\.json/],
    ['syntax.toml', 'trust_domain = ', /syntax\.toml/],
  ]
  for (const [name, text, message] of cases) {
    const r = await validate(name, text)
    t.equal(r.code, 2, name)
    t.equal(r.stdout, '', name)
    t.match(r.stderr, /^sigil-server validate: /, name)
    t.match(r.stderr, message, name)
    t.equal(r.stderr.split('\n').length, 2, `${name}: one line`)
  }
  const missing = await runCaptured(['validate', '--config', join(dir, 'absent.json')], {})
  t.equal(missing.code, 2)
  t.match(missing.stderr, /absent\.json/)
  const none = await runCaptured(['validate'], {})
  t.equal(none.code, 2)
  t.match(none.stderr, /--config is required/)
  const spire = await runCaptured(['validate', '-config', join(dir, 'ok.json')], {})
  t.equal(spire.code, 0, `SPIRE's -config: ${spire.stderr}`)
})
