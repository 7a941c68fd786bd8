/**
 * The development TLS pair for the `https_web` bundle endpoint when the operator gives no
 * certificate: a throw-away self-signed CA (its key is never stored) that signs one server
 * certificate for `localhost`, `127.0.0.1` and `::1` (and the listen host, as a DNS name or
 * an IP address), so `https://127.0.0.1:<port>/` verifies with the dev CA. Files live in
 * `<dataDir>/bundle-endpoint/`: `dev-ca.pem` (what clients trust), `dev-cert.pem`,
 * `dev-key.pem` (0600). They are reused across restarts while valid for the same trust
 * domain and names, and regenerated when they are not. For local development only: web
 * clients will not trust this CA unless told to.
 */

import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import {
  generateKeyPair,
  importPrivateKey,
  privateKeyToPkcs8Pem,
  publicKeyToSpkiDer,
} from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../certs/x509svid/ca-certificate.js'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { dnsNameProblem } from '../../certs/x509svid/dns-name.js'
import { ipAddressBytes, ipAddressText } from '../../certs/x509svid/ip-address.js'
import { certificatesToPem, pemToCertificates } from '../../certs/x509svid/pem.js'
import { verifyX509Svid } from '../../certs/x509svid/verify-x509-svid.js'
import { X509SvidMinter } from '../../certs/x509svid/x509-svid-minter.js'

/** Lifetime of a generated development pair. */
export const DEV_CERT_TTL_SECONDS = 365 * 86_400
/** A pair with less than this left is regenerated at start-up. */
export const DEV_CERT_RENEW_BEFORE_SECONDS = 30 * 86_400

/** The PEM texts of a development pair and where its CA certificate is. */
export interface DevCertificate {
  readonly certPem: string
  readonly keyPem: string
  /** Path of `dev-ca.pem`, the certificate clients must trust. */
  readonly caPath: string
  readonly notAfter: Date
  /** True when this call wrote new files. */
  readonly generated: boolean
}

/** The names a development certificate carries: DNS names and IP addresses (text form). */
export interface DevCertificateNames {
  readonly dnsNames: readonly string[]
  readonly ipAddresses: readonly string[]
}

/**
 * The names a development certificate carries for a listen host: always `localhost`,
 * `127.0.0.1` and `::1`, plus the host itself (a wildcard address such as `0.0.0.0` is not
 * a name a client dials, so it adds nothing).
 *
 * @example
 * devCertificateNames('10.0.0.5') // { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1', '10.0.0.5'] }
 */
export function devCertificateNames(host: string): DevCertificateNames {
  const dnsNames = ['localhost']
  const ipAddresses = ['127.0.0.1', '::1']
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  if (isIP(bare) === 0) {
    if (bare !== 'localhost' && dnsNameProblem(bare) === undefined) dnsNames.push(bare)
  } else {
    // The form readCertificateFacts reports, so a reused pair compares equal.
    const ip = ipAddressText(ipAddressBytes(bare) ?? Buffer.alloc(0)) ?? bare
    if (!WILDCARD_ADDRESSES.has(ip) && !ipAddresses.includes(ip)) ipAddresses.push(ip)
  }
  return { dnsNames, ipAddresses }
}

const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::'])

/**
 * Loads the development pair from `<dataDir>/bundle-endpoint/`, or creates it.
 *
 * @example
 * const dev = await loadOrCreateDevCertificate({ dataDir, trustDomain, hosts: ['127.0.0.1'], now: new Date() })
 * https.createServer({ cert: dev.certPem, key: dev.keyPem }, handler)
 */
export async function loadOrCreateDevCertificate(opts: {
  dataDir: string
  trustDomain: TrustDomain
  /** Listen hosts the certificate must name (the bundle endpoint's, the OIDC discovery listener's). */
  hosts: readonly string[]
  now: Date
}): Promise<DevCertificate> {
  const dir = join(opts.dataDir, 'bundle-endpoint')
  const paths = {
    ca: join(dir, 'dev-ca.pem'),
    cert: join(dir, 'dev-cert.pem'),
    key: join(dir, 'dev-key.pem'),
  }
  const names = mergeNames(opts.hosts.map(devCertificateNames))
  const existing = await loadExisting(paths, opts.trustDomain, names, opts.now)
  if (existing) return { ...existing, caPath: paths.ca, generated: false }

  const caKeys = await generateKeyPair('ec-p256')
  const notAfter = new Date(opts.now.getTime() + DEV_CERT_TTL_SECONDS * 1000)
  const caDer = await buildCaCertificate({
    trustDomain: opts.trustDomain,
    publicKey: caKeys.publicKey,
    signerKey: caKeys.privateKey,
    notBefore: new Date(opts.now.getTime() - 60_000),
    notAfter,
    subject: 'O=Sigil, CN=Sigil bundle endpoint development CA',
  })
  const leafKeys = await generateKeyPair('ec-p256')
  const leaf = new X509SvidMinter({ caCertDer: caDer, caKey: caKeys.privateKey }).mint({
    spiffeId: SpiffeId.fromPath(opts.trustDomain, '/sigil/bundle-endpoint'),
    publicKey: leafKeys.publicKey,
    ttlSeconds: DEV_CERT_TTL_SECONDS,
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    now: opts.now,
  })
  const certPem = certificatesToPem([...leaf.chainDer])
  const keyPem = privateKeyToPkcs8Pem(leafKeys.privateKey)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await writeAtomically(paths.key, keyPem, 0o600)
  await writeAtomically(paths.cert, certPem, 0o644)
  await writeAtomically(paths.ca, certificatesToPem([caDer]), 0o644)
  return { certPem, keyPem, caPath: paths.ca, notAfter: leaf.notAfter, generated: true }
}

function mergeNames(all: readonly DevCertificateNames[]): DevCertificateNames {
  const dnsNames = new Set<string>(['localhost'])
  const ipAddresses = new Set<string>(['127.0.0.1', '::1'])
  for (const n of all) {
    for (const d of n.dnsNames) dnsNames.add(d)
    for (const ip of n.ipAddresses) ipAddresses.add(ip)
  }
  return { dnsNames: [...dnsNames], ipAddresses: [...ipAddresses] }
}

async function loadExisting(
  paths: { ca: string; cert: string; key: string },
  trustDomain: TrustDomain,
  names: DevCertificateNames,
  now: Date,
): Promise<{ certPem: string; keyPem: string; notAfter: Date } | undefined> {
  try {
    const [caPem, certPem, keyPem] = await Promise.all([
      readFile(paths.ca, 'utf8'),
      readFile(paths.cert, 'utf8'),
      readFile(paths.key, 'utf8'),
    ])
    const [caDer] = pemToCertificates(caPem)
    const chain = pemToCertificates(certPem)
    const leafDer = chain[0]
    if (!caDer || !leafDer) return undefined
    const { spiffeId } = verifyX509Svid(chain, (td) => (td.equals(trustDomain) ? [caDer] : undefined), {
      now,
    })
    if (!spiffeId.memberOf(trustDomain)) return undefined
    const leaf = readCertificateFacts(leafDer)
    if (!publicKeyToSpkiDer(importPrivateKey(keyPem)).equals(leaf.spkiDer)) return undefined
    if (names.dnsNames.some((n) => !leaf.dnsSans.includes(n))) return undefined
    // A pair made before IP SANs (or for another listen address) is replaced.
    if (names.ipAddresses.some((ip) => !leaf.ipSans.includes(ip))) return undefined
    if (leaf.notAfter.getTime() - now.getTime() < DEV_CERT_RENEW_BEFORE_SECONDS * 1000) return undefined
    await chmod(paths.key, 0o600)
    return { certPem, keyPem, notAfter: leaf.notAfter }
  } catch {
    return undefined // missing, unreadable, expired or foreign: make a new pair
  }
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode })
  await chmod(tmp, mode)
  await rename(tmp, path)
}
