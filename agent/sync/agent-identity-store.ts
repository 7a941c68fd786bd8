/**
 * Persists the agent's identity in its data directory so that a restarted agent keeps its
 * SVID until it expires instead of attesting again (a join token works only once):
 *
 * - `<dataDir>/agent-svid.pem` (0600): a comment naming the credential used, the SVID chain
 *   (leaf first) and the PKCS#8 private key, in one file so chain and key always change together;
 * - `<dataDir>/bundle.json` (0600): the last trust bundle received from the server (SPIFFE bundle
 *   document), which authenticates the server after a restart.
 *
 * The directory is created 0700 (and tightened to 0700 if it was wider). Every write goes to a
 * temporary file in the same directory, is fsynced, then renamed over the old one, so a crash
 * leaves either the old or the new file. Trust: the files are as trustworthy as the directory's
 * permissions; whatever is read back is parsed and checked like untrusted input.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeSpiffeBundle, encodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../certs/errors.js'
import { importPrivateKey, privateKeyToPkcs8Pem } from '../../certs/keys/keys.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { certificatesToPem, pemToCertificates } from '../../certs/x509svid/pem.js'
import { type AgentIdentity, agentIdentityFromChain } from './agent-identity.js'

/** The agent SVID chain and key, inside the data directory. */
export const IDENTITY_FILE = 'agent-svid.pem'
/** The last trust bundle received, inside the data directory. */
export const BUNDLE_FILE = 'bundle.json'

const CREDENTIAL_LINE = /^# attested-with: (\S+)$/m
const KEY_BLOCK = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----/
const MAX_FILE_BYTES = 1024 * 1024

/** A stored identity and the credential that obtained it. */
export interface StoredIdentity {
  readonly identity: AgentIdentity
  /** `credentialTag` of the credential used for the attestation ('' when unknown). */
  readonly credentialTag: string
}

/**
 * The agent's identity files (see the module comment).
 *
 * @example
 * const store = new AgentIdentityStore(config.dataDir, config.trustDomain)
 * const stored = await store.loadIdentity() // undefined on first start
 * await store.saveIdentity(identity, credentialTag(credential))
 */
export class AgentIdentityStore {
  readonly dataDir: string
  readonly #trustDomain: TrustDomain

  constructor(dataDir: string, trustDomain: TrustDomain) {
    if (typeof dataDir !== 'string' || dataDir === '') throw new TypeError('dataDir must be a path')
    this.dataDir = dataDir
    this.#trustDomain = trustDomain
  }

  /** Creates the directory (0700), or tightens an existing one to 0700. */
  async ensureDir(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 })
    const st = await stat(this.dataDir)
    if (!st.isDirectory())
      throw new SigilError('ERR_CONFIG_INVALID', `data-dir ${this.dataDir} is not a directory`)
    if ((st.mode & 0o777) !== 0o700) await chmod(this.dataDir, 0o700)
  }

  /**
   * The stored identity, or `undefined` when there is none. Throws `ERR_SVID_INVALID` (or
   * `ERR_KEY_INVALID` / `ERR_CERT_INVALID`) for a damaged file; expiry is the caller's question.
   */
  async loadIdentity(): Promise<StoredIdentity | undefined> {
    const text = await this.#read(IDENTITY_FILE)
    if (text === undefined) return undefined
    const keyPem = KEY_BLOCK.exec(text)?.[0]
    if (!keyPem)
      throw new SigilError('ERR_SVID_INVALID', `${this.#path(IDENTITY_FILE)} has no PRIVATE KEY block`)
    const identity = agentIdentityFromChain(
      pemToCertificates(text),
      importPrivateKey(keyPem),
      this.#trustDomain,
    )
    return { identity, credentialTag: CREDENTIAL_LINE.exec(text)?.[1] ?? '' }
  }

  /** Atomically replaces the stored identity. */
  async saveIdentity(identity: AgentIdentity, credentialTag: string): Promise<void> {
    if (/\s/.test(credentialTag)) throw new TypeError('credential tag must not contain whitespace')
    const text =
      `# Sigil agent SVID ${identity.spiffeId} (serial ${identity.serial}, expires ${identity.notAfter.toISOString()})\n` +
      (credentialTag ? `# attested-with: ${credentialTag}\n` : '') +
      certificatesToPem([...identity.chainDer]) +
      privateKeyToPkcs8Pem(identity.privateKey)
    await this.#write(IDENTITY_FILE, text)
  }

  /** Removes the stored identity (after the server refused it for good). */
  async deleteIdentity(): Promise<void> {
    await rm(this.#path(IDENTITY_FILE), { force: true })
  }

  /** The stored bundle, or `undefined`. Throws `ERR_BUNDLE_INVALID` for a damaged file. */
  async loadBundle(): Promise<TrustBundle | undefined> {
    const text = await this.#read(BUNDLE_FILE)
    return text === undefined ? undefined : decodeSpiffeBundle(this.#trustDomain, text)
  }

  /** Atomically replaces the stored bundle. */
  async saveBundle(bundle: TrustBundle): Promise<void> {
    if (!bundle.trustDomain.equals(this.#trustDomain)) throw new TypeError('bundle of another trust domain')
    await this.#write(BUNDLE_FILE, `${encodeSpiffeBundle(bundle)}\n`)
  }

  #path(name: string): string {
    return join(this.dataDir, name)
  }

  async #read(name: string): Promise<string | undefined> {
    const path = this.#path(name)
    try {
      const buf = await readFile(path)
      if (buf.length > MAX_FILE_BYTES) throw new SigilError('ERR_CONFIG_INVALID', `${path} is too large`)
      return buf.toString('utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw e
    }
  }

  async #write(name: string, text: string): Promise<void> {
    await this.ensureDir()
    const path = this.#path(name)
    const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
    const file = await open(tmp, 'wx', 0o600)
    try {
      await file.writeFile(text, 'utf8')
      await file.sync()
    } catch (e) {
      await file.close()
      await rm(tmp, { force: true })
      throw e
    }
    await file.close()
    try {
      await rename(tmp, path)
    } catch (e) {
      await rm(tmp, { force: true })
      throw e
    }
    const dir = await open(this.dataDir, 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  }
}
