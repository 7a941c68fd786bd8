/**
 * Persists the CA manager's authorities in `<dataDir>/keys/authorities.json`: for every
 * X.509 CA, JWT key and WIT key still in use, its PKCS#8 private key (PEM; dropped once retired),
 * its CA certificate (PEM) or kid and public key, validity, status (prepared, active,
 * retired) and the latest expiry of anything it signed. The directory is 0700 and the
 * file 0600, replaced atomically (temp file, fsync, rename), so a crash leaves either
 * the old or the new state, never a mix. The file is trusted (we wrote it) but still
 * checked field by field: a damaged store stops the server rather than minting a new CA
 * behind the operator's back. A key directory (once it holds keys) or file that group or
 * others may read is refused (`ERR_DATASTORE`, naming it): the keys may already have been copied, so the
 * operator decides, rather than the server quietly tightening the mode. A full disk on save
 * is `ERR_DATASTORE_FULL`. This module does no crypto and never logs.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { SigilError } from '../../certs/errors.js'

/** prepared: published, not signing yet; active: the signer; retired: published until its SVIDs expire. */
export type AuthorityStatus = 'prepared' | 'active' | 'retired'
const STATUSES: readonly AuthorityStatus[] = ['prepared', 'active', 'retired']

/** Fields every stored authority has. */
export interface StoredAuthority {
  /** Random identifier, for logs and file names. */
  readonly id: string
  readonly status: AuthorityStatus
  /** PKCS#8 PEM; absent once retired (a retired key never signs again). */
  readonly privateKeyPem?: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** Latest notAfter of an SVID it signed; absent when unknown (treated as notAfter). */
  readonly signedUntil?: Date
  /** `localauthority taint`: agents re-issue what it signed (retired authorities only). */
  readonly tainted?: boolean
}

/** A stored X.509 CA. */
export interface StoredX509Authority extends StoredAuthority {
  readonly certificatePem: string
}

/** A stored JWT signing key. */
export interface StoredJwtAuthority extends StoredAuthority {
  readonly kid: string
  /** SPKI PEM, so retired keys stay publishable without their private half. */
  readonly publicKeyPem: string
}

/** Everything the CA manager persists. */
export interface KeyJournal {
  readonly x509: readonly StoredX509Authority[]
  readonly jwt: readonly StoredJwtAuthority[]
  /** WIT-SVID signing keys (same record shape as JWT keys); absent in journals written before WIT-SVIDs. */
  readonly wit?: readonly StoredJwtAuthority[]
}

const FILE_NAME = 'authorities.json'
const FORMAT_VERSION = 1
const DIR_MODE = 0o700
const FILE_MODE = 0o600
const MAX_FILE_BYTES = 4 * 1024 * 1024

/**
 * The on-disk home of the CA manager's keys.
 *
 * @example
 * const store = new KeyStore('/var/lib/sigil/server')
 * const journal = (await store.load()) ?? { x509: [], jwt: [] }
 * await store.save(journal)
 */
export class KeyStore {
  /** `<dataDir>/keys` */
  readonly dir: string
  /** `<dataDir>/keys/authorities.json` */
  readonly path: string

  constructor(dataDir: string) {
    if (typeof dataDir !== 'string' || dataDir === '')
      throw new TypeError('dataDir must be a non-empty string')
    this.dir = join(dataDir, 'keys')
    this.path = join(this.dir, FILE_NAME)
  }

  /**
   * Reads the journal; undefined when none was saved yet. Throws `ERR_DATASTORE` if it is
   * damaged or more open than 0600 (file) / 0700 (directory).
   */
  async load(): Promise<KeyJournal | undefined> {
    await this.ensureDir()
    await this.removeStaleTemps()
    let text: string
    try {
      await checkMode(this.path, FILE_MODE)
      const buf = await readFile(this.path)
      if (buf.length > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`)
      text = buf.toString('utf8')
    } catch (cause) {
      if (cause instanceof SigilError) throw cause
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw damaged(this.path, `cannot be read: ${(cause as Error).message}`, cause)
    }
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (cause) {
      throw damaged(this.path, 'is not JSON', cause)
    }
    const doc = asRecord(raw, 'top level', this.path)
    if (doc.version !== FORMAT_VERSION) throw damaged(this.path, `has unknown version ${String(doc.version)}`)
    return {
      x509: asArray(doc.x509, 'x509', this.path).map((v, i) => {
        const r = asRecord(v, `x509[${i}]`, this.path)
        return {
          ...this.common(r, `x509[${i}]`),
          certificatePem: str(r, 'certificatePem', `x509[${i}]`, this.path),
        }
      }),
      jwt: this.keyRecords(doc.jwt, 'jwt'),
      ...(doc.wit === undefined ? {} : { wit: this.keyRecords(doc.wit, 'wit') }),
    }
  }

  /**
   * Replaces the journal atomically (0600 temp file, fsync, rename, fsync of the directory).
   * On a full disk it throws `ERR_DATASTORE_FULL` and the old journal stays in place.
   */
  async save(journal: KeyJournal): Promise<void> {
    try {
      await this.#save(journal)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new SigilError('ERR_DATASTORE_FULL', `key store ${this.path}: no space left on device`, {
          cause: e,
        })
      }
      throw e
    }
  }

  async #save(journal: KeyJournal): Promise<void> {
    await this.ensureDir()
    const doc = {
      version: FORMAT_VERSION,
      x509: journal.x509.map((a) => ({ ...commonJson(a), certificatePem: a.certificatePem })),
      jwt: journal.jwt.map((a) => ({ ...commonJson(a), kid: a.kid, publicKeyPem: a.publicKeyPem })),
      ...(journal.wit === undefined
        ? {}
        : { wit: journal.wit.map((a) => ({ ...commonJson(a), kid: a.kid, publicKeyPem: a.publicKeyPem })) }),
    }
    const tmp = join(this.dir, `.${FILE_NAME}.${randomBytes(6).toString('hex')}.tmp`)
    const fh = await open(tmp, 'wx', FILE_MODE)
    try {
      await fh.chmod(FILE_MODE)
      await fh.writeFile(`${JSON.stringify(doc, null, 2)}\n`)
      await fh.sync()
    } catch (err) {
      await fh.close()
      await unlink(tmp).catch(() => {})
      throw err
    }
    await fh.close()
    await rename(tmp, this.path)
    const dh = await open(this.dir, 'r')
    try {
      await dh.sync()
    } finally {
      await dh.close()
    }
  }

  /** Creates the dir 0700; an open dir is tightened while it holds no keys, refused once it does. */
  private async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: DIR_MODE })
    const holdsKeys = await stat(this.path).then(
      () => true,
      () => false,
    )
    if (holdsKeys) await checkMode(this.dir, DIR_MODE)
    else await chmod(this.dir, DIR_MODE)
  }

  private async removeStaleTemps(): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name.startsWith(`.${FILE_NAME}.`) && name.endsWith('.tmp')) {
        await unlink(join(this.dir, name)).catch(() => {})
      }
    }
  }

  private keyRecords(list: unknown, name: 'jwt' | 'wit'): StoredJwtAuthority[] {
    return asArray(list, name, this.path).map((v, i) => {
      const where = `${name}[${i}]`
      const r = asRecord(v, where, this.path)
      return {
        ...this.common(r, where),
        kid: str(r, 'kid', where, this.path),
        publicKeyPem: str(r, 'publicKeyPem', where, this.path),
      }
    })
  }

  private common(r: Record<string, unknown>, where: string): StoredAuthority {
    const status = r.status
    if (typeof status !== 'string' || !(STATUSES as readonly string[]).includes(status)) {
      throw damaged(this.path, `${where}.status is not one of ${STATUSES.join(', ')}`)
    }
    const privateKeyPem =
      r.privateKeyPem === undefined ? undefined : str(r, 'privateKeyPem', where, this.path)
    if (status !== 'retired' && privateKeyPem === undefined) {
      throw damaged(this.path, `${where} is ${status} but has no private key`)
    }
    const signedUntil = r.signedUntil === undefined ? undefined : date(r, 'signedUntil', where, this.path)
    return {
      id: str(r, 'id', where, this.path),
      status: status as AuthorityStatus,
      ...(privateKeyPem === undefined ? {} : { privateKeyPem }),
      notBefore: date(r, 'notBefore', where, this.path),
      notAfter: date(r, 'notAfter', where, this.path),
      ...(signedUntil === undefined ? {} : { signedUntil }),
      ...(tainted(r, where, this.path) ? { tainted: true } : {}),
    }
  }
}

/** Throws `ERR_DATASTORE` when `path` grants group or others more than `allowed` does (none). */
async function checkMode(path: string, allowed: number): Promise<void> {
  const st = await stat(path)
  if ((st.mode & 0o077 & ~allowed) !== 0) {
    const mode = `0${(st.mode & 0o777).toString(8)}`
    const want = `0${allowed.toString(8)}`
    throw new SigilError(
      'ERR_DATASTORE',
      `key store ${path} is mode ${mode}, more open than ${want}: other users may have copied the CA keys. Check who could, then chmod ${want} ${path}`,
    )
  }
  if (process.getuid !== undefined && st.uid !== process.getuid()) {
    throw new SigilError(
      'ERR_DATASTORE',
      `key store ${path} is owned by uid ${st.uid}, not by this server (uid ${process.getuid()})`,
    )
  }
}

function damaged(path: string, why: string, cause?: unknown): SigilError {
  return new SigilError('ERR_DATASTORE', `key store ${path} ${why}`, { cause })
}

function tainted(r: Record<string, unknown>, where: string, path: string): boolean {
  if (r.tainted === undefined) return false
  if (typeof r.tainted !== 'boolean') throw damaged(path, `${where}.tainted is not a boolean`)
  if (r.tainted && r.status !== 'retired') throw damaged(path, `${where} is ${String(r.status)} and tainted`)
  return r.tainted
}

function commonJson(a: StoredAuthority): Record<string, unknown> {
  return {
    id: a.id,
    status: a.status,
    ...(a.status === 'retired' || a.privateKeyPem === undefined ? {} : { privateKeyPem: a.privateKeyPem }),
    notBefore: a.notBefore.toISOString(),
    notAfter: a.notAfter.toISOString(),
    ...(a.signedUntil === undefined ? {} : { signedUntil: a.signedUntil.toISOString() }),
    ...(a.tainted ? { tainted: true } : {}),
  }
}

function asRecord(v: unknown, where: string, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw damaged(path, `${where} is not an object`)
  return v as Record<string, unknown>
}

function asArray(v: unknown, where: string, path: string): unknown[] {
  if (!Array.isArray(v)) throw damaged(path, `${where} is not an array`)
  return v
}

function str(r: Record<string, unknown>, key: string, where: string, path: string): string {
  const v = r[key]
  if (typeof v !== 'string' || v === '') throw damaged(path, `${where}.${key} is not a non-empty string`)
  return v
}

function date(r: Record<string, unknown>, key: string, where: string, path: string): Date {
  const d = new Date(str(r, key, where, path))
  if (Number.isNaN(d.getTime())) throw damaged(path, `${where}.${key} is not a date`)
  return d
}
