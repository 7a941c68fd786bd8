// Attacks on federation, against the real sigil-server process: a foreign bundle endpoint (or
// whoever sits in its place) serves garbage, an older spiffe_sequence, the same sequence with
// other keys, a bundle for another trust domain, an empty bundle, a body too large, a redirect
// to plain HTTP, or hangs / drips bytes forever. Each refresh is refused (`federation refresh`
// exits 1 naming the reason), the last good bundle stays, the reason is recorded and logged,
// and the server keeps answering. And an operator (or a script on the admin socket) tries to
// overwrite or delete our own trust domain's bundle, or to federate with it, over http, or with
// a bundle whose CAs belong to another domain: refused with exit 2.
import { once } from 'node:events'
import { readFileSync, writeFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import { federationCreateArgs, spiffeBundleDoc } from '../helpers/federation-fixtures.js'
import { type ServerProcess, shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { createTestCa, type TestCa } from '../helpers/testca.js'
import { makeWebPki } from '../helpers/web-pki.js'

const dir = shortTempDir(t)
const pki = makeWebPki(dir)
writeFileSync(join(dir, 'web-ca.pem'), pki.ca)
let answer: (res: ServerResponse) => void = (res) => res.end('{}')
const hostile: Server = createServer(pki, (_req, res) => answer(res))
hostile.listen(0, '127.0.0.1')
await once(hostile, 'listening')
const url = `https://localhost:${(hostile.address() as AddressInfo).port}/`
t.teardown(() => {
  hostile.closeAllConnections()
  hostile.close()
})

const server: ServerProcess = await startServerProcess(join(dir, 's'), [
  '--federation-web-ca',
  join(dir, 'web-ca.pem'),
  '--federation-min-refresh',
  '1h',
])
t.teardown(() => server.stop())

const otherCa = await createTestCa({ trustDomain: 'other.org' })
const thirdCa = await createTestCa({ trustDomain: 'third.org' })

const doc = (ca: TestCa, seq: number, trustDomain = ca.trustDomain) =>
  spiffeBundleDoc(ca, seq, { trustDomain })

const good = await doc(otherCa, 5)
answer = (res) => res.end(good)
const createOther = federationCreateArgs('other.org', url, 'https_web')
const created = await server.cli(...createOther, '--output', 'json')
const storedList = async () =>
  (await server.cli('bundle', 'list', '--format', 'spiffe', '--output', 'json')).stdout

t.test('a hostile bundle endpoint never replaces the last good bundle', async (t) => {
  t.equal(created.code, 0, created.stderr)
  t.match(JSON.parse(created.stdout), {
    refresh_outcome: 'stored',
    relationship: { bundle_sequence_number: 5 },
  })
  const before = await storedList()
  t.match(before, '"sequence_number": 5')

  const attacks: [string, (res: ServerResponse) => void | Promise<void>, RegExp][] = [
    ['garbage', (res) => res.end('\u0000\u0001garbage'), /JSON|bundle/i],
    ['an older sequence', async (res) => res.end(await doc(otherCa, 4)), /not newer/],
    ['the same sequence with other keys', async (res) => res.end(await doc(otherCa, 5)), /not newer/],
    [
      'a newer bundle for another trust domain',
      async (res) => res.end(await doc(thirdCa, 50, TrustDomain.parse('other.org'))),
      /another trust domain/,
    ],
    [
      'an empty bundle with a higher sequence',
      (res) => res.end('{"keys":[],"spiffe_sequence":99}'),
      /no usable key/,
    ],
    [
      'a body over the size cap',
      (res) => res.end(`{"keys":[],"x":"${'a'.repeat(2 * 1024 * 1024)}"}`),
      /larger than/,
    ],
    [
      'a redirect to plain http',
      (res) => {
        res.writeHead(302, { location: 'http://127.0.0.1:1/' })
        res.end()
      },
      /non-https/,
    ],
    ['a hang', () => {}, /within 10000 ms/],
    [
      'a drip of one byte every 200 ms',
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        const timer = setInterval(() => res.write(' '), 200)
        res.on('close', () => clearInterval(timer))
      },
      /within 10000 ms/,
    ],
  ]
  for (const [what, attack, why] of attacks) {
    answer = (res) => void attack(res)
    const r = await server.cli('federation', 'refresh', '--trust-domain', 'other.org', '--output', 'json')
    t.equal(r.code, 1, `${what}: federation refresh exits 1`)
    const out = JSON.parse(r.stdout) as {
      outcome: string
      error: string
      relationship: { last_error: string }
    }
    t.equal(out.outcome, 'failed', `${what}: refused`)
    t.match(out.error, why, `${what}: the reason`)
    t.match(out.relationship.last_error, why, `${what}: recorded on the relationship`)
    t.equal(await storedList(), before, `${what}: the last good bundle stays`)
  }
  t.ok(
    server.logs.filter((l) => l.msg === 'federation: bundle refresh failed; keeping the last good bundle')
      .length >= attacks.length,
    'every refusal is logged',
  )
  const health = await server.cli('healthcheck')
  t.equal(health.code, 0, 'the server is healthy after all of it')

  // a genuinely newer bundle is still taken
  const newer = await doc(otherCa, 6)
  answer = (res) => res.end(newer)
  const ok = await server.cli('federation', 'refresh', '--trust-domain', 'other.org', '--output', 'json')
  t.equal(ok.code, 0)
  t.match(JSON.parse(ok.stdout), { outcome: 'stored', relationship: { bundle_sequence_number: 6 } })
})

t.test('our own bundle cannot be overwritten, deleted or federated with; bad input is refused', async (t) => {
  const ownPem = join(dir, 'own.pem')
  writeFileSync(ownPem, (await server.cli('bundle', 'show')).stdout)
  const otherPem = join(dir, 'other.pem')
  writeFileSync(otherPem, certificatesToPem([otherCa.rootDer]))
  const thirdPem = join(dir, 'third.pem')
  writeFileSync(thirdPem, certificatesToPem([thirdCa.rootDer]))
  writeFileSync(join(dir, 'garbage.pem'), 'not a bundle')
  const refused: [string, string[], RegExp][] = [
    [
      'bundle set of our own trust domain',
      ['bundle', 'set', '--id', 'spiffe://example.org', '--path', otherPem],
      /own/,
    ],
    ['bundle delete of our own trust domain', ['bundle', 'delete', '--id', 'spiffe://example.org'], /own/],
    [
      'bundle set with CAs of another trust domain',
      ['bundle', 'set', '--id', 'spiffe://other.org', '--path', thirdPem],
      /another trust domain/,
    ],
    [
      'bundle set of garbage',
      ['bundle', 'set', '--id', 'spiffe://fourth.org', '--path', join(dir, 'garbage.pem')],
      /./,
    ],
    [
      'bundle set with a path in the ID',
      ['bundle', 'set', '--id', 'spiffe://fourth.org/x', '--path', otherPem],
      /trust domain ID/,
    ],
    ['federation with our own trust domain', federationCreateArgs('example.org', url, 'https_web'), /own/],
    [
      'a plain-http bundle endpoint',
      federationCreateArgs('fourth.org', 'http://127.0.0.1/', 'https_web'),
      /https/,
    ],
    [
      'https_spiffe without an endpoint ID',
      federationCreateArgs('fourth.org', url, 'https_spiffe'),
      /endpoint-spiffe-id/,
    ],
    ['a second relationship with the same domain', createOther, /already exists/],
    [
      'a bootstrap bundle of another trust domain',
      federationCreateArgs(
        'fourth.org',
        url,
        'https_spiffe',
        '--endpoint-spiffe-id',
        'spiffe://fourth.org/srv',
        '--trust-domain-bundle',
        thirdPem,
      ),
      /another trust domain/,
    ],
    [
      'bundle delete while a relationship fetches it',
      ['bundle', 'delete', '--id', 'spiffe://other.org'],
      /federation delete/,
    ],
  ]
  for (const [what, args, why] of refused) {
    const r = await server.cli(...args)
    t.equal(r.code, 2, `${what}: exit 2`)
    t.match(r.stderr, why, `${what}: says why`)
  }
  t.equal(
    (await server.cli('bundle', 'show')).stdout.trim(),
    readFileSync(ownPem, 'utf8').trim(),
    'our own bundle is what it was',
  )
  t.same(JSON.parse((await server.cli('bundle', 'count', '--output', 'json')).stdout), { count: 1 })
  t.equal(
    (await server.cli('federation', 'list', '--output', 'json')).stdout.match(/trust_domain/g)?.length,
    1,
  )

  // SPIRE's spelling works; a bundle in use by an entry cannot be deleted (restrict)
  const set = await server.cli(
    'bundle',
    'set',
    '-id',
    'spiffe://fourth.org',
    '-path',
    otherPem,
    '-format',
    'pem',
  )
  t.equal(set.code, 2, 'a bundle whose CA names other.org is refused for fourth.org')
  const fourthCa = await createTestCa({ trustDomain: 'fourth.org' })
  writeFileSync(join(dir, 'fourth.json'), await doc(fourthCa, 3))
  const setJson = await server.cli(
    'bundle',
    'set',
    '-id',
    'spiffe://fourth.org',
    '-path',
    join(dir, 'fourth.json'),
    '-format',
    'spiffe',
  )
  t.equal(setJson.code, 0, setJson.stderr)
  const entry = await server.cli(
    'entry',
    'create',
    '--spiffe-id',
    'spiffe://example.org/w',
    '--parent-id',
    'spiffe://example.org/n',
    '--selector',
    'unix:uid:1234',
    '--federates-with',
    'spiffe://fourth.org',
  )
  t.equal(entry.code, 0, entry.stderr)
  const del = await server.cli('bundle', 'delete', '-id', 'spiffe://fourth.org')
  t.equal(del.code, 2)
  t.match(del.stderr, /federate/)
  const mode = await server.cli('bundle', 'delete', '--id', 'spiffe://fourth.org', '--mode', 'dissociate')
  t.equal(mode.code, 2)
  t.match(mode.stderr, /restrict/)
})
