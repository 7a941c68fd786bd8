// Federation between two Sigil trust domains, all real processes: a.org and b.org (a server and
// an agent each, https_spiffe bundle endpoints) federate with each other through `federation
// create` bootstrapped with the other's `bundle show`; each agent delivers the foreign bundle to
// the workload whose entry federates with that domain, and workloads of the two domains do
// mutual TLS with the SDK (X509Source, tlsServerOptions/serveMtls, tlsClientOptions, authorizeId).
// Then b.org's server (and with it its bundle endpoint) is stopped and restarted on the same
// ports: a.org records the failed refreshes and keeps the last good bundle, mTLS goes on
// throughout, and the refreshes succeed again once the endpoint is back. Last, b.org's CA
// rotates: its next root reaches a.org's workload (time measured) before b.org's service
// presents an SVID from it, and mTLS goes on across the switch.
import { X509Certificate } from 'node:crypto'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { decodePemBundle } from '../../certs/bundle/pem-bundle.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { authorizeId } from '../../sdk/authorizers.js'
import { fetchSpiffeBundle } from '../../sdk/bundle-endpoint-client.js'
import { tlsClientOptions } from '../../sdk/tls-client.js'
import { peerSpiffeId } from '../../sdk/tls-peer.js'
import { serveMtls, tlsServerOptions } from '../../sdk/tls-server.js'
import { X509Source } from '../../sdk/x509-source.js'
import { freePort, type SigilNode, startSigilNode } from '../helpers/agent-process.js'
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js'
import { waitUntil } from '../helpers/wait-until.js'

const uid = process.getuid?.() ?? 0
const CLIENT = 'spiffe://a.org/client'
const SERVER = 'spiffe://b.org/server'

interface Side {
  node: SigilNode
  args: string[]
  url: string
  server: ServerProcess
}

async function startSide(td: string, extra: readonly string[] = []): Promise<Side> {
  const [agentPort, bundlePort] = [await freePort(), await freePort()]
  const args = [
    '--agent-api-address',
    `127.0.0.1:${agentPort}`,
    '--bundle-endpoint-address',
    `127.0.0.1:${bundlePort}`,
    '--bundle-endpoint-profile',
    'https_spiffe',
    '--bundle-refresh-hint',
    '1s',
    '--federation-min-refresh',
    '1s',
    ...extra,
  ]
  const node = await startSigilNode(t, { trustDomain: td, serverArgs: args })
  return { node, args, url: `https://127.0.0.1:${bundlePort}/`, server: node.server }
}

async function json(server: ServerProcess, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await server.cli(...args, '--output', 'json')
  if (r.code !== 0) throw new Error(`sigil-server ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as Record<string, unknown>
}

async function federate(from: Side, to: Side, td: string): Promise<Record<string, unknown>> {
  const bundlePath = join(from.node.dir, `${td}.pem`)
  writeFileSync(bundlePath, (await to.server.cli('bundle', 'show')).stdout)
  return json(
    from.server,
    'federation',
    'create',
    '--trust-domain',
    td,
    '--bundle-endpoint-url',
    to.url,
    '--bundle-endpoint-profile',
    'https_spiffe',
    '--endpoint-spiffe-id',
    `spiffe://${td}/sigil/server`,
    '--trust-domain-bundle',
    bundlePath,
  )
}

const a = await startSide('a.org')
// b.org's CA lives 80 s: its successor is published at 40 s and signs from about 67 s, while
// this test runs (SVIDs of 30 s keep b.org's service valid through its server's restart)
const b = await startSide('b.org', ['--ca-ttl', '80s', '--x509-svid-ttl', '30s', '--agent-svid-ttl', '30s'])

t.test('two trust domains federate, and workloads do mTLS across them', async (t) => {
  const ab = await federate(a, b, 'b.org')
  t.equal(ab.refresh_outcome, 'stored', 'a.org fetched b.org’s bundle at once')
  const ba = await federate(b, a, 'a.org')
  t.equal(ba.refresh_outcome, 'stored', 'b.org fetched a.org’s bundle at once')
  const listed = await json(a.server, 'federation', 'list')
  t.match(listed, {
    relationships: [{ trust_domain: 'b.org', bundle_endpoint_profile: 'https_spiffe', last_error: '' }],
  })
  t.same(await json(a.server, 'bundle', 'count'), { count: 1 }, 'bundle count: one federated bundle')

  // the bundle a.org stored for b.org is b.org's own (same X.509 roots as its bundle show)
  const listedBundles = (await json(a.server, 'bundle', 'list', '--id', 'spiffe://b.org')) as {
    bundles: { trust_domain: string; pem: string }[]
  }
  const bRoots = decodePemBundle(TrustDomain.parse('b.org'), (await b.server.cli('bundle', 'show')).stdout)
  t.same(
    decodePemBundle(TrustDomain.parse('b.org'), listedBundles.bundles[0]?.pem ?? '').x509Authorities,
    bRoots.x509Authorities,
  )
  // a.org's own bundle endpoint still serves only a.org
  const aOwn = decodePemBundle(TrustDomain.parse('a.org'), (await a.server.cli('bundle', 'show')).stdout)
  const served = await fetchSpiffeBundle({
    url: a.url,
    trustDomain: 'a.org',
    profile: { type: 'https_spiffe', endpointSpiffeId: 'spiffe://a.org/sigil/server', endpointBundle: aOwn },
  })
  t.same(served.x509Authorities, aOwn.x509Authorities, 'a.org’s bundle endpoint serves a.org’s roots only')

  await a.node.createEntry(CLIENT, [`unix:uid:${uid}`], ['--federates-with', 'spiffe://b.org'])
  await b.node.createEntry(SERVER, [`unix:uid:${uid}`], ['--federates-with', 'spiffe://a.org'])
  const client = await X509Source.create({
    socketPath: a.node.agent.socketPath,
    signal: AbortSignal.timeout(30_000),
  })
  const service = await X509Source.create({
    socketPath: b.node.agent.socketPath,
    signal: AbortSignal.timeout(30_000),
  })
  t.teardown(() => {
    client.close()
    service.close()
  })
  await waitUntil('the client workload holding b.org’s bundle', () => client.getX509Bundles().has('b.org'))
  await waitUntil('the service workload holding a.org’s bundle', () => service.getX509Bundles().has('a.org'))
  t.same(client.getX509Bundles().get('b.org')?.x509Authorities, bRoots.x509Authorities)

  const refused: string[] = []
  const httpsServer = serveMtls(
    https.createServer(tlsServerOptions(service), (req, res) => {
      res.end(`hello ${peerSpiffeId(req.socket)}`)
    }),
    service,
    authorizeId(CLIENT),
    { onRefused: (e) => refused.push(e.message) },
  )
  httpsServer.listen(0, '127.0.0.1')
  await once(httpsServer, 'listening')
  t.teardown(() => httpsServer.close())
  const port = (httpsServer.address() as AddressInfo).port
  const call = (serverId = SERVER): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          agent: false,
          ...tlsClientOptions(client, authorizeId(serverId)),
        },
        (res) => {
          let body = ''
          res.on('data', (d: Buffer) => {
            body += d.toString()
          })
          res.on('end', () => resolve(body))
        },
      )
      req.on('error', reject)
      req.end()
    })
  t.equal(
    await call(),
    `hello ${CLIENT}`,
    'mTLS from a.org to b.org, each verified with the federated bundle',
  )
  await t.rejects(call('spiffe://b.org/other'), 'the client still authorizes the exact server ID')

  // b.org's bundle endpoint goes away (its whole server stops)
  const before = (await json(a.server, 'federation', 'show', '--trust-domain', 'b.org')) as {
    relationship: { bundle_sequence_number: number }
  }
  await b.server.stop()
  await waitUntil(
    'a.org recording a failed refresh of b.org',
    async () => {
      const r = (await json(a.server, 'federation', 'show', '--trust-domain', 'b.org')) as {
        relationship: { last_error: string }
      }
      return r.relationship.last_error !== ''
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  )
  t.ok(
    a.server.logs.some((l) => l.msg === 'federation: bundle refresh failed; keeping the last good bundle'),
    'the failure is logged',
  )
  const refreshNow = await a.server.cli('federation', 'refresh', '--trust-domain', 'b.org')
  t.equal(refreshNow.code, 1, 'federation refresh exits 1 while the endpoint is down')
  t.same(
    (await json(a.server, 'bundle', 'list', '--id', 'spiffe://b.org')).bundles,
    listedBundles.bundles,
    'the last good bundle stays',
  )
  t.equal(await call(), `hello ${CLIENT}`, 'mTLS goes on while b.org’s bundle endpoint is down')

  // back on the same ports (same CA keys in the same data dir)
  b.server = await startServerProcess(join(b.node.dir, 's'), ['--trust-domain', 'b.org', ...b.args])
  t.teardown(() => b.server.stop())
  await waitUntil(
    'a.org refreshing b.org again',
    async () => {
      const r = (await json(a.server, 'federation', 'show', '--trust-domain', 'b.org')) as {
        relationship: { last_error: string; bundle_sequence_number: number }
      }
      return r.relationship.last_error === ''
    },
    { timeoutMs: 20_000, intervalMs: 250 },
  )
  const after = (await json(a.server, 'federation', 'show', '--trust-domain', 'b.org')) as {
    relationship: { bundle_sequence_number: number }
  }
  t.ok(
    after.relationship.bundle_sequence_number >= before.relationship.bundle_sequence_number,
    'the sequence never goes back',
  )
  t.equal(await call(), `hello ${CLIENT}`, 'mTLS after the restart')

  // b.org rotates its CA: the new root reaches a.org's workload through federation before
  // b.org's service presents an SVID signed by it, and mTLS goes on across the switch
  const oldRoots = bRoots.x509Authorities
  const seen = new Map<string, number>()
  const stamp = () => {
    if ((client.getX509Bundles().get('b.org')?.x509Authorities.length ?? 0) > oldRoots.length) {
      if (!seen.has('client')) seen.set('client', performance.now())
    }
  }
  const signedByNewCa = () => {
    const issuer = service.getX509Svid().leaf.issuer
    if (!oldRoots.some((root) => new X509Certificate(root).subject === issuer) && !seen.has('switched')) {
      seen.set('switched', performance.now())
    }
  }
  const unsubscribe = [client.onUpdate(stamp), service.onUpdate(signedByNewCa)]
  t.teardown(() => {
    for (const u of unsubscribe) u()
  })
  await waitUntil(
    'b.org publishing its next CA at its bundle endpoint',
    async () => {
      const served = await fetchSpiffeBundle({
        url: b.url,
        trustDomain: 'b.org',
        profile: {
          type: 'https_spiffe',
          endpointSpiffeId: 'spiffe://b.org/sigil/server',
          endpointBundle: bRoots,
        },
      }).catch(() => undefined)
      if ((served?.x509Authorities.length ?? 0) > oldRoots.length) seen.set('published', performance.now())
      return seen.has('published')
    },
    { timeoutMs: 90_000, intervalMs: 100 },
  )
  await waitUntil('a.org’s workload holding b.org’s next CA', () => seen.has('client'), { timeoutMs: 20_000 })
  const delivery = (seen.get('client') ?? 0) - (seen.get('published') ?? 0)
  t.comment(
    `b.org's next CA reached a.org's workload ${Math.max(0, Math.round(delivery))} ms after b.org published it`,
  )
  await waitUntil('b.org’s service holding an SVID from the new CA', () => seen.has('switched'), {
    timeoutMs: 60_000,
  })
  t.ok(
    (seen.get('client') ?? Number.POSITIVE_INFINITY) < (seen.get('switched') ?? 0),
    'a.org’s workload had the new root before b.org’s service used it',
  )
  t.equal(await call(), `hello ${CLIENT}`, 'mTLS with an SVID signed by b.org’s new CA')
  t.same(refused, [], 'the service refused no client')
})
