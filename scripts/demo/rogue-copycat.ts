/**
 * Demo rogue #2, the copycat: an unregistered script (the agent gives it nothing) that has
 * copied planner's certificate file (DEMO_SHARED_DIR/planner-cert.pem, public material) and
 * tries to reach researcher, which lets in planner only. It cannot get planner's private key,
 * which never leaves planner's memory. Three tries, each must be refused:
 * 1. the copied certificate with a freshly generated key — its own TLS stack will not even
 *    offer a certificate whose key it does not hold;
 * 2. no client certificate at all — researcher's handshake requires one;
 * 3. a look-alike planner SVID (same SPIFFE ID, its own key) signed by a CA the rogue made up
 *    for the same trust domain — researcher's handshake finds no trusted issuer.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import {
  buildCaCertificate,
  certificatesToPem,
  privateKeyToPkcs8Pem,
  SpiffeId,
  X509SvidMinter,
} from '../../certs/index.js'
import { emit } from './demo-event.js'
import { describeTlsError } from './mtls-http.js'

const NAME = 'rogue-copycat'
const researcherUrl = process.env.DEMO_RESEARCHER_URL ?? ''
const copiedPem = readFileSync(join(process.env.DEMO_SHARED_DIR ?? '', 'planner-cert.pem'), 'utf8')
const copied = new X509Certificate(copiedPem)
const plannerId = /URI:(spiffe:\/\/[^,\s]+)/.exec(copied.subjectAltName ?? '')?.[1] ?? ''

/** GET /research on researcher presenting `key`+`cert` (or nothing); resolves the HTTP status. */
function tryResearcher(creds: { key?: string; cert?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    // The rogue does not care whom it reaches: it does not check the server.
    const req = request(
      `${researcherUrl}/research?task=stolen`,
      { ...creds, rejectUnauthorized: false, agent: false },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.setTimeout(5_000, () => req.destroy(new Error('no answer in 5 s')))
    req.on('error', reject)
    req.end()
  })
}

async function attempt(name: string, run: () => Promise<number>): Promise<void> {
  try {
    const status = await run()
    emit(NAME, {
      kind: 'attempt',
      name,
      refused: status !== 200,
      reason: `researcher answered HTTP ${status}`,
    })
  } catch (err) {
    const code = (err as { code?: unknown }).code
    const why =
      code === 'ECONNRESET' ? 'researcher hung up during the handshake' : describeTlsError(err as Error)
    emit(NAME, { kind: 'attempt', name, refused: true, reason: `${why} [${String(code)}]` })
  }
}

const ownKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
emit(NAME, {
  kind: 'notice',
  text: `copied planner's certificate file: ${plannerId}, serial ${copied.serialNumber.toLowerCase()}`,
})

await attempt(`present the copied ${plannerId} certificate with its own key`, () =>
  tryResearcher({ cert: copiedPem, key: privateKeyToPkcs8Pem(ownKey.privateKey) }),
)
await attempt('connect with no client certificate', () => tryResearcher({}))
await attempt(`present a look-alike ${plannerId} SVID from a CA it made up`, async () => {
  const id = SpiffeId.parse(plannerId)
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const now = new Date()
  const caCertDer = await buildCaCertificate({
    trustDomain: id.trustDomain,
    publicKey: ca.publicKey,
    signerKey: ca.privateKey,
    notBefore: now,
    notAfter: new Date(now.getTime() + 3_600_000),
  })
  const forged = new X509SvidMinter({ caCertDer, caKey: ca.privateKey }).mint({
    spiffeId: id,
    publicKey: ownKey.publicKey,
    ttlSeconds: 600,
    now,
  })
  return tryResearcher({
    cert: certificatesToPem([...forged.chainDer]),
    key: privateKeyToPkcs8Pem(ownKey.privateKey),
  })
})
