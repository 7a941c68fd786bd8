// Small real-part helpers for the CA manager tests: an in-memory bundle store that keeps
// every write, a controllable clock, a logger that records entries, and openssl verify.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeSpiffeBundle } from '../../../certs/bundle/spiffe-bundle-json.js'
import type { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import type { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import type { Log } from '../../../common/logging/logger.js'
import type { BundleStore, StoredBundle } from '../../../server/ca/bundle-publisher.js'

/** A BundleStore in memory; `writes` lists every setBundle in order, with the clock time. */
export class MemoryBundleStore implements BundleStore {
  readonly bundles = new Map<string, StoredBundle>()
  readonly writes: { trustDomain: string; bundle: StoredBundle; at: Date }[] = []
  failWrites = false
  constructor(private readonly clock: () => Date = () => new Date()) {}

  async getBundle(trustDomain: string): Promise<StoredBundle | undefined> {
    return this.bundles.get(trustDomain)
  }

  async setBundle(trustDomain: string, bundle: StoredBundle): Promise<void> {
    if (this.failWrites) throw new Error('datastore is down')
    this.bundles.set(trustDomain, { ...bundle })
    this.writes.push({ trustDomain, bundle: { ...bundle }, at: this.clock() })
  }

  async updateBundle(
    trustDomain: string,
    merge: (stored: StoredBundle | undefined) => StoredBundle | undefined,
  ): Promise<StoredBundle | undefined> {
    const next = merge(this.bundles.get(trustDomain))
    if (next) await this.setBundle(trustDomain, next)
    return this.bundles.get(trustDomain)
  }

  /** The stored bundle of `td`, decoded (what a relying party fetching it now would get). */
  decoded(td: TrustDomain): TrustBundle {
    const stored = this.bundles.get(td.name)
    if (!stored) throw new Error(`no bundle for ${td.name}`)
    return decodeSpiffeBundle(td, stored.spiffeBundleJson)
  }
}

/** A clock that moves only when told to. */
export class FakeClock {
  ms: number
  constructor(start: Date | number = Math.floor(Date.now() / 1000) * 1000) {
    this.ms = typeof start === 'number' ? start : start.getTime()
  }
  readonly now = (): Date => new Date(this.ms)
  advance(ms: number): Date {
    this.ms += ms
    return this.now()
  }
}

/** A logger that keeps every entry (and can be searched for secrets). */
export class RecordingLogger implements Log {
  readonly entries: { level: string; obj: Record<string, unknown>; msg: string }[] = []
  debug(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'debug', obj, msg })
  }
  info(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'info', obj, msg })
  }
  warn(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'warn', obj, msg })
  }
  error(obj: Record<string, unknown>, msg: string): void {
    this.entries.push({ level: 'error', obj, msg })
  }
  text(): string {
    return this.entries.map((e) => `${e.level} ${e.msg} ${JSON.stringify(e.obj)}`).join('\n')
  }
}

/**
 * Runs `openssl verify -x509_strict` on a leaf with the given trust anchors and untrusted
 * intermediates, optionally at a given time. Returns openssl's status and output.
 */
export function opensslVerify(opts: {
  /** One leaf, or several (checked in one openssl run; ok only if all pass). */
  leaf: Buffer | readonly Buffer[]
  roots: readonly Buffer[]
  intermediates?: readonly Buffer[]
  at?: Date
}): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-ca-verify-'))
  try {
    const rootFile = join(dir, 'roots.pem')
    writeFileSync(rootFile, certificatesToPem([...opts.roots]))
    const leaves = Buffer.isBuffer(opts.leaf) ? [opts.leaf] : [...opts.leaf]
    const leafFiles = leaves.map((leaf, i) => {
      const file = join(dir, `leaf-${i}.pem`)
      writeFileSync(file, certificatesToPem([leaf]))
      return file
    })
    const args = ['verify', '-x509_strict', '-CAfile', rootFile]
    if (opts.intermediates && opts.intermediates.length > 0) {
      const intFile = join(dir, 'intermediates.pem')
      writeFileSync(intFile, certificatesToPem([...opts.intermediates]))
      args.push('-untrusted', intFile)
    }
    if (opts.at) args.push('-attime', String(Math.floor(opts.at.getTime() / 1000)))
    args.push(...leafFiles)
    const r = spawnSync('/usr/bin/openssl', args, { encoding: 'utf8' })
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
