/**
 * The start-up check that the CA key store and the datastore belong together, run before the
 * CA manager may create anything. Trust: the key store is the root of trust and the datastore
 * holds what was built on it (the published bundle, entries, attested agents). If one is lost or
 * swapped, starting anyway would mint a new CA and drop the old roots — every SVID already issued
 * would stop verifying — or serve an empty registry as if healthy. So a mismatch is a fatal
 * `ERR_DATASTORE` naming the file, unless the operator says otherwise with `--allow-new-ca` or
 * `--allow-empty-datastore`. A fresh data dir (no keys, empty datastore) passes.
 */
import { decodeSpiffeBundle } from '../../certs/bundle/spiffe-bundle-json.js'
import { SigilError } from '../../certs/errors.js'
import type { TrustDomain } from '../../certs/spiffeid/trust-domain.js'
import { pemToCertificates } from '../../certs/x509svid/pem.js'
import type { StoredBundle } from './bundle-publisher.js'
import type { KeyJournal } from './key-store.js'

/** The datastore reads the check needs. */
export interface CaStateDataStore {
  getBundle(trustDomain: string): Promise<StoredBundle | undefined>
  countEntries(): Promise<number>
  listAttestedAgents(): Promise<readonly unknown[]>
}

/** What the check needs, passed in once. */
export interface CaStateCheckOptions {
  readonly trustDomain: TrustDomain
  /** The loaded key journal (undefined when none exists). */
  readonly journal: KeyJournal | undefined
  readonly keyStorePath: string
  readonly datastore: CaStateDataStore
  readonly datastorePath: string
  /** Start a new CA although the datastore was built on another one. */
  readonly allowNewCa: boolean
  /** Start on an empty datastore although CA keys exist. */
  readonly allowEmptyDatastore: boolean
  /**
   * This server joins a datastore other servers already use (`--join-datastore`, issue 15):
   * with no keys of its own it starts its own CA and adds it to the shared bundle.
   */
  readonly joinDatastore?: boolean
  readonly logger: { warn(obj: Record<string, unknown>, msg: string): void }
}

/** How the CA may treat the stored bundle after the check. */
export interface CaStateOutcome {
  /** The operator chose to replace the published CA (`--allow-new-ca`): drop other authorities once. */
  readonly replaceForeignAuthorities: boolean
}

/**
 * Throws `ERR_DATASTORE` (one line, naming the file and the override flag) when the key store and
 * the datastore do not belong together; logs a warning when an override flag let it pass.
 * A server joining a shared datastore (`joinDatastore`) with no keys yet passes: its own CA is
 * added beside the others.
 *
 * @example
 * await checkCaState({ trustDomain, journal: await keyStore.load(), keyStorePath: keyStore.path,
 *   datastore, datastorePath, allowNewCa: false, allowEmptyDatastore: false, logger })
 */
export async function checkCaState(o: CaStateCheckOptions): Promise<CaStateOutcome> {
  const keep = { replaceForeignAuthorities: false }
  const replace = { replaceForeignAuthorities: true }
  const hasKeys = o.journal !== undefined && (o.journal.x509.length > 0 || o.journal.jwt.length > 0)
  const stored = await o.datastore.getBundle(o.trustDomain.name)
  const entries = await o.datastore.countEntries()
  const agents = (await o.datastore.listAttestedAgents()).length
  const datastoreEmpty = stored === undefined && entries === 0 && agents === 0
  const holds = `a trust bundle${stored ? '' : ' (none)'}, ${entries} entries and ${agents} attested agents`

  if (!hasKeys && !datastoreEmpty && o.joinDatastore) {
    o.logger.warn(
      { key_store: o.keyStorePath, entries, agents },
      'joining a datastore other servers use (--join-datastore): this server starts its own CA and adds it to the shared trust bundle',
    )
    return keep
  }
  if (!hasKeys && !datastoreEmpty) {
    if (!o.allowNewCa) {
      throw new SigilError(
        'ERR_DATASTORE',
        `key store ${o.keyStorePath} is missing while datastore ${o.datastorePath} holds ${holds}: a new CA would make every issued SVID fail to verify. Restore ${o.keyStorePath} from backup, pass --join-datastore if this is an additional server beside the ones already using the datastore, or pass --allow-new-ca to replace the CA on purpose`,
      )
    }
    o.logger.warn(
      { key_store: o.keyStorePath, entries, agents },
      'starting a new CA on an existing datastore (--allow-new-ca): SVIDs signed by the old CA stop verifying and agents must attest again',
    )
    return replace
  }
  if (hasKeys && datastoreEmpty) {
    if (!o.allowEmptyDatastore) {
      throw new SigilError(
        'ERR_DATASTORE',
        `datastore ${o.datastorePath} is empty or missing while key store ${o.keyStorePath} holds this server's CA: entries and attested agents are gone. Restore ${o.datastorePath} from backup, or pass --allow-empty-datastore to start with an empty registry on purpose`,
      )
    }
    o.logger.warn(
      { datastore: o.datastorePath },
      'starting on an empty datastore beside existing CA keys (--allow-empty-datastore): every entry and agent must be registered again',
    )
    return keep
  }
  if (hasKeys && stored && o.journal && !sharesAuthority(o.trustDomain, o.journal, stored)) {
    if (!o.allowNewCa) {
      throw new SigilError(
        'ERR_DATASTORE',
        `key store ${o.keyStorePath} holds none of the authorities in the trust bundle of datastore ${o.datastorePath}: the keys belong to another server or an old backup. Restore the matching ${o.keyStorePath}, or pass --allow-new-ca to replace the published CA on purpose`,
      )
    }
    o.logger.warn(
      { key_store: o.keyStorePath },
      'the key store does not match the published bundle; replacing the CA (--allow-new-ca): SVIDs signed by the old CA stop verifying',
    )
    return replace
  }
  return keep
}

/** True when one of the journal's X.509 CAs or JWT keys is in the stored bundle (or the bundle is unreadable). */
function sharesAuthority(trustDomain: TrustDomain, journal: KeyJournal, stored: StoredBundle): boolean {
  let bundle: ReturnType<typeof decodeSpiffeBundle>
  try {
    bundle = decodeSpiffeBundle(trustDomain, stored.spiffeBundleJson)
  } catch {
    return true // an unreadable bundle is republished from the keys (bundle-publisher.ts)
  }
  const kids = new Set(bundle.jwtAuthorities.map((a) => a.kid))
  if (journal.jwt.some((a) => kids.has(a.kid))) return true
  const roots = bundle.x509Authorities.map((d) => d.toString('base64'))
  return journal.x509.some((a) => {
    try {
      return pemToCertificates(a.certificatePem).some((d) => roots.includes(d.toString('base64')))
    } catch {
      return false
    }
  })
}
