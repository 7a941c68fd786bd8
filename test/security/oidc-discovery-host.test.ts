// Attack: asking the OIDC discovery endpoints under a Host name Sigil does not serve — DNS
// rebinding, a stray CNAME or a shared proxy pointing another name at the server, hoping to
// read (or have a relying party cache) the issuer document and keys under a foreign name.
// Both listeners (the bundle endpoint and --oidc-discovery-address) answer 400 with one line
// that discloses nothing (no issuer, no kid, no key), for both paths; a missing or malformed
// Host is refused the same way; X-Forwarded-Host is not honoured. Real server process, TLS.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import t from 'tap'
import { type ServerProcess, shortTempDir, startServerProcess } from '../helpers/server-process.js'
import { httpsRequest } from '../server/cli/https-get.js'

const ISSUER = 'https://oidc.example.org'
const REFUSED = '400 this host name is not served here\n'
const PATHS = ['/.well-known/openid-configuration', '/keys']

let server: ServerProcess
let ca: Buffer
let listeners: string[]
t.before(async () => {
  const dir = shortTempDir(t)
  server = await startServerProcess(dir, [
    '--jwt-issuer',
    ISSUER,
    '--oidc-discovery-domain',
    'discovery.example.net',
    '--oidc-discovery-address',
    '127.0.0.1:0',
  ])
  ca = await readFile(join(dir, 'bundle-endpoint', 'dev-ca.pem'))
  const started = server.logs.find((l) => l.msg === 'sigil-server started')
  listeners = [server.bundleEndpointUrl, String(started?.oidc_discovery)].map((u) => u.replace(/\/$/, ''))
})
t.teardown(async () => {
  await server?.stop()
})

const get = (url: string, host?: string, extra: Record<string, string> = {}) =>
  httpsRequest(url, { ca, servername: 'localhost', headers: { ...(host ? { host } : {}), ...extra } })

t.test('a foreign Host gets 400 and one line, on both listeners and both paths', async (t) => {
  for (const base of listeners) {
    for (const path of PATHS) {
      for (const host of ['evil.example', 'evil.example:443', 'oidc.example.org.evil.example', '10.0.0.1']) {
        const r = await get(`${base}${path}`, host)
        t.equal(r.status, 400, `${base}${path} Host: ${host}`)
        t.equal(r.body, REFUSED, 'the body says only that')
        t.notMatch(r.body, /oidc\.example\.org|kid|"keys"/)
        const plain = new Set(['connection', 'content-length', 'content-type', 'date', 'keep-alive'])
        t.same(
          Object.keys(r.headers).filter((h) => !plain.has(h)),
          [],
          'no header beyond the transport ones',
        )
      }
    }
  }
})

t.test('the allowed names are served: configured domain, issuer host, loopback', async (t) => {
  for (const base of listeners) {
    for (const host of [
      'discovery.example.net',
      'DISCOVERY.example.net.',
      'oidc.example.org:8443',
      'localhost',
      '[::1]:1',
    ]) {
      const r = await get(`${base}/.well-known/openid-configuration`, host)
      t.equal(r.status, 200, `${base} Host: ${host}`)
      t.equal(JSON.parse(r.body).issuer, ISSUER, 'the issuer never follows Host')
    }
  }
})

t.test('X-Forwarded-Host is not honoured: neither to get in nor to change the document', async (t) => {
  const refused = await get(`${listeners[0]}/keys`, 'evil.example', { 'x-forwarded-host': 'localhost' })
  t.equal(refused.status, 400)
  const served = await get(`${listeners[0]}/.well-known/openid-configuration`, 'localhost', {
    'x-forwarded-host': 'evil.example',
  })
  t.equal(served.status, 200)
  t.same(JSON.parse(served.body).jwks_uri, `${ISSUER}/keys`)
})

t.test('a missing or malformed Host is refused like a foreign one', async (t) => {
  for (const base of listeners) {
    const { port } = new URL(base)
    for (const hostLine of [
      '',
      'Host: localhost@evil.example\r\n',
      'Host: localhost:99999x\r\n',
      'Host: [::1\r\n',
    ]) {
      const head = await rawRequest(Number(port), `GET /keys HTTP/1.0\r\n${hostLine}\r\n`)
      t.match(head, /^HTTP\/1\.[01] 400 /, JSON.stringify(hostLine))
      t.notMatch(head, /"keys"/)
    }
  }
})

t.test('the bundle itself is unchanged: GET / answers whatever the Host', async (t) => {
  const r = await get(`${listeners[0]}/`, 'evil.example')
  t.equal(r.status, 200, 'the SPIFFE bundle endpoint is public by design and names no host')
})

/** One raw HTTP request over TLS (for requests node's client will not send); the whole answer. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () =>
      socket.end(text),
    )
    let answer = ''
    socket.on('data', (d: Buffer) => {
      answer += d.toString()
    })
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
  })
}
