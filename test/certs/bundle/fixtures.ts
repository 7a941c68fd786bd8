// Test fixtures for bundle and JWT-SVID tests: CA certificates made by the real openssl
// binary from keys generated at run time (no dependency on Sigil's own X.509 code).
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const OPENSSL = '/usr/bin/openssl'
export type FixtureKeyType = 'ec-p256' | 'ec-p384' | 'rsa-2048'

export interface FixtureKeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
}

/** A key pair of the given type (sync, for fixtures). */
export function keyPair(type: FixtureKeyType): FixtureKeyPair {
  if (type === 'rsa-2048') return generateKeyPairSync('rsa', { modulusLength: 2048 })
  return generateKeyPairSync('ec', { namedCurve: type === 'ec-p256' ? 'prime256v1' : 'secp384r1' })
}

/** Runs openssl with stdin, returning stdout; throws with stderr on failure. */
export function openssl(args: string[], input?: Uint8Array | string): Buffer {
  return execFileSync(OPENSSL, args, { input, stdio: ['pipe', 'pipe', 'pipe'] })
}

/** A self-signed CA certificate (DER) for `key`, made by `openssl req -x509`. */
export function makeCaDer(
  key: KeyObject,
  opts: { cn?: string; trustDomain?: string; ca?: boolean } = {},
): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-ca-'))
  try {
    const keyPath = join(dir, 'key.pem')
    const outPath = join(dir, 'ca.der')
    writeFileSync(keyPath, key.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    const ca = opts.ca ?? true
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      keyPath,
      '-sha256',
      '-days',
      '2',
      '-subj',
      `/O=Sigil Test/CN=${opts.cn ?? 'Test CA'}`,
      '-addext',
      ca ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=critical,CA:FALSE',
      '-addext',
      ca ? 'keyUsage=critical,keyCertSign,cRLSign' : 'keyUsage=critical,digitalSignature',
      '-addext',
      `subjectAltName=URI:spiffe://${opts.trustDomain ?? 'example.org'}`,
      '-outform',
      'DER',
      '-out',
      outPath,
    ])
    return readFileSync(outPath)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A new CA of the given key type: its key pair and DER certificate. */
export function makeCa(type: FixtureKeyType, cn?: string): FixtureKeyPair & { der: Buffer } {
  const pair = keyPair(type)
  return { ...pair, der: makeCaDer(pair.privateKey, { cn }) }
}

/** A tiny seeded PRNG (mulberry32) so fuzz failures are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A tap `throws` pattern for a SigilError with this code. */
export function sigilCode(code: string): { name: string; code: string } {
  return { name: 'SigilError', code }
}
