// Test CAs made at run time: a self-signed root (and optionally an intermediate signing CA
// below it), a minter for the signing CA, and helpers to mint SVIDs with fresh keys and to
// write the CA certificates as PEM files for openssl. No key material is ever committed.

import type { KeyObject } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, type KeyType } from '../../certs/keys/keys.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { buildCaCertificate } from '../../certs/x509svid/ca-certificate.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import { type MintedX509Svid, X509SvidMinter } from '../../certs/x509svid/x509-svid-minter.js'

/** Options for {@link createTestCa}. */
export interface TestCaOptions {
  trustDomain?: string
  /** Key type of the root and intermediate CA keys (default ec-p256). */
  keyType?: KeyType
  /** CA lifetime (default one day). */
  ttlSeconds?: number
  /** Put an intermediate signing CA between the root and the leaves. */
  withIntermediate?: boolean
  /** CA NotBefore (default: now). */
  now?: Date
}

/** Options for {@link TestCa.mintSvid}. */
export interface MintTestSvidOptions {
  keyType?: KeyType
  ttlSeconds?: number
  dnsNames?: string[]
  now?: Date
}

/** A minted SVID together with its freshly generated key pair. */
export interface TestSvid extends MintedX509Svid {
  privateKey: KeyObject
  publicKey: KeyObject
}

/** A test CA: root (and intermediate), its minter, and helpers. */
export interface TestCa {
  trustDomain: TrustDomain
  rootDer: Buffer
  rootKey: KeyObject
  intermediateDer?: Buffer
  intermediateKey?: KeyObject
  /** The certificate that signs leaves (the intermediate when there is one). */
  signingCertDer: Buffer
  minter: X509SvidMinter
  /** The trust bundle roots, for verifyX509Svid's authoritiesFor. */
  authoritiesFor: (td: TrustDomain) => Buffer[] | undefined
  mintSvid(path: string, opts?: MintTestSvidOptions): Promise<TestSvid>
  writePem(dir: string): Promise<{ rootPath: string; intermediatePath?: string }>
}

/**
 * Creates a test CA (see {@link TestCaOptions}).
 *
 * @example
 * const ca = await createTestCa({ withIntermediate: true })
 * const svid = await ca.mintSvid('/ns/web', { dnsNames: ['web.example.org'] })
 * verifyX509Svid(svid.chainDer, ca.authoritiesFor)
 */
export async function createTestCa(opts: TestCaOptions = {}): Promise<TestCa> {
  const trustDomain = TrustDomain.parse(opts.trustDomain ?? 'example.org')
  const keyType = opts.keyType ?? 'ec-p256'
  const notBefore = opts.now ?? new Date()
  const notAfter = new Date(notBefore.getTime() + (opts.ttlSeconds ?? 86_400) * 1000)
  const root = await generateKeyPair(keyType)
  const rootDer = await buildCaCertificate({
    trustDomain,
    publicKey: root.publicKey,
    signerKey: root.privateKey,
    notBefore,
    notAfter,
  })
  let intermediateDer: Buffer | undefined
  let intermediateKey: KeyObject | undefined
  if (opts.withIntermediate) {
    const inter = await generateKeyPair(keyType)
    intermediateKey = inter.privateKey
    intermediateDer = await buildCaCertificate({
      trustDomain,
      publicKey: inter.publicKey,
      signerKey: root.privateKey,
      issuerCertDer: rootDer,
      notBefore,
      notAfter,
    })
  }
  const signingCertDer = intermediateDer ?? rootDer
  const minter = new X509SvidMinter({ caCertDer: signingCertDer, caKey: intermediateKey ?? root.privateKey })
  return {
    trustDomain,
    rootDer,
    rootKey: root.privateKey,
    ...(intermediateDer ? { intermediateDer, intermediateKey } : {}),
    signingCertDer,
    minter,
    authoritiesFor: (td) => (td.equals(trustDomain) ? [rootDer] : undefined),
    async mintSvid(path, o = {}) {
      const keys = await generateKeyPair(o.keyType ?? 'ec-p256')
      const svid = minter.mint({
        spiffeId: SpiffeId.fromPath(trustDomain, path),
        publicKey: keys.publicKey,
        ttlSeconds: o.ttlSeconds ?? 3600,
        ...(o.dnsNames ? { dnsNames: o.dnsNames } : {}),
        ...(o.now ? { now: o.now } : {}),
      })
      return { ...svid, privateKey: keys.privateKey, publicKey: keys.publicKey }
    },
    async writePem(dir) {
      const rootPath = join(dir, 'root.pem')
      await writeFile(rootPath, certificatesToPem([rootDer]))
      if (!intermediateDer) return { rootPath }
      const intermediatePath = join(dir, 'intermediate.pem')
      await writeFile(intermediatePath, certificatesToPem([intermediateDer]))
      return { rootPath, intermediatePath }
    },
  }
}
