/**
 * The server's policy store (issue 14): the versioned Cedar policy set in the datastore and the
 * compiled set in force. `set` validates a text against the Sigil schema before anything is
 * stored (a policy that does not compile throws `PolicyError` with line/column and changes
 * nothing: the version in force stays), stores it as the next version, puts it in force and
 * tells the listeners (the agent update streams push it to every agent). `refresh` picks up a
 * version another server stored in the same datastore.
 *
 * Trust: only the admin API calls `set`; the text is the operator's. Compilation happens once
 * per version, here, never per request; a large set compiles on a worker thread
 * (`CompiledPolicySet.compileOffThread`), so the server keeps serving while it does.
 */
import { createHash } from 'node:crypto'
import { errorText } from '../../common/errors/error-text.js'
import type { Log } from '../../common/logging/logger.js'
import { CompiledPolicySet } from '../../common/policy/policy-engine.js'
import { PolicyPoint } from '../../common/policy/policy-point.js'
import type { DataStore, PolicyVersionRecord } from '../datastore/datastore.js'

/** The datastore calls the store makes. */
export type PolicyDataStore = Pick<DataStore, 'addPolicyVersion' | 'getPolicyVersion' | 'listPolicyVersions'>

/** The policy in force as pushed to agents (empty text: no policy; version 0: none ever set). */
export interface PolicyInForce {
  readonly version: number
  readonly text: string
  readonly sha256: string
}

/** How to build a {@link PolicyStore}. */
export interface PolicyStoreOptions {
  readonly datastore: PolicyDataStore
  readonly logger: Pick<Log, 'info' | 'warn' | 'error'>
  /** The decision point to keep current (default: a new one). */
  readonly point?: PolicyPoint
}

/**
 * Policy versions and the set in force.
 *
 * @example
 * const policies = await PolicyStore.open({ datastore, logger })
 * policies.onChange((p) => push(p))
 * await policies.set(text, 'uid=0 pid=42')
 */
export class PolicyStore {
  readonly point: PolicyPoint
  readonly #o: PolicyStoreOptions
  readonly #listeners = new Set<(p: PolicyInForce) => void>()
  #text = ''
  /** Writes one at a time, so versions are assigned in the order they are put in force. */
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(opts: PolicyStoreOptions) {
    this.#o = opts
    this.point = opts.point ?? new PolicyPoint()
  }

  /** Opens the store and puts the newest stored version that compiles in force. */
  static async open(opts: PolicyStoreOptions): Promise<PolicyStore> {
    const store = new PolicyStore(opts)
    await store.refresh()
    return store
  }

  /** The policy in force. */
  inForce(): PolicyInForce {
    return { version: this.point.version, text: this.#text, sha256: this.point.sha256 }
  }

  /** One stored version, or undefined. */
  version(version: number): Promise<PolicyVersionRecord | undefined> {
    return this.#o.datastore.getPolicyVersion(version)
  }

  /** Every stored version, newest first. */
  history(): Promise<PolicyVersionRecord[]> {
    return this.#o.datastore.listPolicyVersions()
  }

  /** Adds a listener told after every change of the policy in force; returns its removal. */
  onChange(listener: (p: PolicyInForce) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Validates, stores and puts `text` in force (`''`: no policy). Throws `PolicyError` (nothing
   * stored) for a text that does not compile. Resolves the stored version.
   */
  set(
    text: string,
    adminCaller: string,
  ): Promise<{ record: PolicyVersionRecord; compiled?: CompiledPolicySet }> {
    const run = this.#queue.then(async () => {
      const latest = await this.#o.datastore.getPolicyVersion()
      const expected = (latest?.version ?? 0) + 1
      // compile before storing: an invalid text never becomes a version
      // a large set is parsed and validated on a worker thread: the server keeps answering meanwhile
      let compiled = text === '' ? undefined : await CompiledPolicySet.compileOffThread(text, expected)
      const record = await this.#o.datastore.addPolicyVersion({
        text,
        sha256: createHash('sha256').update(text).digest('hex'),
        adminCaller,
        policyIds: compiled?.policyIds ?? [],
      })
      if (compiled !== undefined && record.version !== expected)
        compiled = await CompiledPolicySet.compileOffThread(text, record.version)
      this.#putInForce(record, compiled)
      this.#o.logger.info(
        {
          policy_version: record.version,
          policies: compiled?.policyIds.length ?? 0,
          admin_caller: adminCaller,
        },
        text === '' ? 'policy cleared' : 'policy set',
      )
      return compiled === undefined ? { record } : { record, compiled }
    })
    this.#queue = run.catch(() => {})
    return run
  }

  /**
   * Puts the newest stored version in force if it is not already (another server may have set
   * it). A stored version that no longer compiles is skipped for the newest one that does.
   */
  async refresh(): Promise<void> {
    const run = this.#queue.then(async () => {
      const latest = await this.#o.datastore.getPolicyVersion()
      if (latest === undefined || latest.version === this.point.version) return
      for (const record of [latest, ...(await this.#o.datastore.listPolicyVersions()).slice(1)]) {
        if (record.version <= this.point.version) return
        try {
          const compiled =
            record.text === ''
              ? undefined
              : await CompiledPolicySet.compileOffThread(record.text, record.version)
          this.#putInForce(record, compiled)
          return
        } catch (e) {
          this.#o.logger.error(
            { policy_version: record.version, err: errorText(e) },
            'stored policy version does not compile; trying the previous one',
          )
        }
      }
    })
    this.#queue = run.catch(() => {})
    return run
  }

  #putInForce(record: PolicyVersionRecord, compiled: CompiledPolicySet | undefined): void {
    // a cleared policy is a version with empty text: agents drop their set
    if (compiled === undefined) this.point.install(record.version, '')
    else this.point.installCompiled(compiled)
    this.#text = record.text
    const now = this.inForce()
    for (const listener of [...this.#listeners]) {
      try {
        listener(now)
      } catch (e) {
        this.#o.logger.error({ err: errorText(e) }, 'policy listener failed')
      }
    }
  }
}
