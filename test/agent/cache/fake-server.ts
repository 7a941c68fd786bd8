// A stand-in for the Sigil server as the agent's cache sees it: an SvidIssuer that really signs
// CSRs with a test CA (test/helpers/testca.ts) and really mints JWT-SVIDs, with switches to make
// it slow (a gate), unavailable, or record what it was asked. Also small builders for entries,
// states and a collecting logger.

import type {
  AuthorizedEntry,
  AuthorizedState,
  IssuedJwtSvid,
  IssuedX509Svid,
  SvidIssuer,
  X509SvidRequest,
} from '../../../agent/cache/authorized-state.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../../certs/errors.js'
import { JwtSvidSigner } from '../../../certs/jwtsvid/jwt-svid-signer.js'
import { generateKeyPair } from '../../../certs/keys/keys.js'
import { parseSelector } from '../../../certs/selector/selector.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { parseCsr } from '../../../certs/x509svid/csr.js'
import { createTestCa, type TestCa } from '../../helpers/testca.js'

export interface EntryInit {
  id: string
  path: string
  selectors: string[]
  hint?: string
  x509SvidTtl?: number
  jwtSvidTtl?: number
  federatesWith?: string[]
  revisionNumber?: number
  createdAt?: Date
}

/** A registration entry in the test CA's trust domain. */
export function entry(init: EntryInit, trustDomain = 'example.org'): AuthorizedEntry {
  return {
    id: init.id,
    spiffeId: `spiffe://${trustDomain}${init.path}`,
    parentId: `spiffe://${trustDomain}/spire/agent/test`,
    selectors: init.selectors.map(parseSelector),
    dnsNames: [],
    hint: init.hint ?? '',
    admin: false,
    federatesWith: init.federatesWith ?? [],
    x509SvidTtl: init.x509SvidTtl ?? 3600,
    jwtSvidTtl: init.jwtSvidTtl ?? 300,
    revisionNumber: init.revisionNumber ?? 1,
    createdAt: init.createdAt ?? new Date('2026-01-01T00:00:00Z'),
  }
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: object
  msg: string
}

/** A logger that keeps what it is told. */
export function collectingLogger() {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (obj: object, msg: string): void => {
      lines.push({ level, obj, msg })
    }
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

/** The issuing side of a test server. */
export class FakeIssuer implements SvidIssuer {
  /** When true every call fails ERR_UNAVAILABLE. */
  down = false
  /** While set, calls wait for it before answering. */
  gate: Promise<void> | undefined
  readonly x509Calls: X509SvidRequest[][] = []
  readonly jwtCalls: { entryId: string; audience: readonly string[] }[] = []
  entries: AuthorizedEntry[] = []
  readonly #ca: TestCa
  readonly #jwt: JwtSvidSigner
  readonly #clock: () => Date

  constructor(ca: TestCa, jwt: JwtSvidSigner, clock: () => Date) {
    this.#ca = ca
    this.#jwt = jwt
    this.#clock = clock
  }

  async newX509Svids(requests: readonly X509SvidRequest[]): Promise<IssuedX509Svid[]> {
    this.x509Calls.push([...requests])
    if (this.gate) await this.gate
    if (this.down) throw new SigilError('ERR_UNAVAILABLE', 'server unreachable (test)')
    const ids = new Set(requests.map((r) => r.entryId))
    if (ids.size !== requests.length)
      throw new SigilError('ERR_INVALID_ARGUMENT', 'duplicate entry ID in batch')
    const out: IssuedX509Svid[] = []
    for (const r of requests) {
      const e = this.#entry(r.entryId)
      const { publicKey } = await parseCsr(r.csrDer)
      const m = this.#ca.minter.mint({
        spiffeId: SpiffeId.parse(e.spiffeId),
        publicKey,
        ttlSeconds: e.x509SvidTtl,
        now: this.#clock(),
      })
      out.push({
        entryId: e.id,
        spiffeId: e.spiffeId,
        chainDer: m.chainDer,
      })
    }
    return out
  }

  async newJwtSvid(entryId: string, audience: readonly string[]): Promise<IssuedJwtSvid> {
    this.jwtCalls.push({ entryId, audience })
    if (this.gate) await this.gate
    if (this.down) throw new SigilError('ERR_UNAVAILABLE', 'server unreachable (test)')
    const e = this.#entry(entryId)
    const m = await this.#jwt.sign({
      spiffeId: SpiffeId.parse(e.spiffeId),
      audience,
      ttlSeconds: e.jwtSvidTtl,
      now: this.#clock(),
    })
    return { token: m.token, spiffeId: e.spiffeId, issuedAt: m.issuedAt, expiresAt: m.expiresAt }
  }

  #entry(id: string): AuthorizedEntry {
    const e = this.entries.find((x) => x.id === id)
    if (e === undefined) throw new SigilError('ERR_NOT_AUTHORIZED', `entry ${id} is not authorized (test)`)
    return e
  }
}

export interface FakeServer {
  ca: TestCa
  issuer: FakeIssuer
  bundle: TrustBundle
  /** The state for these entries (also what the issuer will sign for). */
  state(entries: AuthorizedEntry[], federated?: Map<string, TrustBundle>): AuthorizedState
}

/** A test CA with a JWT key, its bundle, and an issuer over both (minting at `clock()`). */
export async function createFakeServer(
  opts: { trustDomain?: string; clock?: () => Date } = {},
): Promise<FakeServer> {
  const clock = opts.clock ?? (() => new Date())
  // The CA is valid from a day before `clock()` so that a test clock may move back and forth.
  const ca = await createTestCa({
    trustDomain: opts.trustDomain ?? 'example.org',
    now: new Date(clock().getTime() - 86_400_000),
    ttlSeconds: 7 * 86_400,
  })
  const jwtKey = await generateKeyPair('ec-p256')
  const signer = new JwtSvidSigner({ privateKey: jwtKey.privateKey, kid: 'jwt-key-1' })
  const bundle = TrustBundle.create({
    trustDomain: ca.trustDomain,
    x509Authorities: [ca.rootDer],
    jwtAuthorities: [{ kid: 'jwt-key-1', publicKey: jwtKey.publicKey }],
  })
  const issuer = new FakeIssuer(ca, signer, clock)
  return {
    ca,
    issuer,
    bundle,
    state(entries, federated = new Map()) {
      issuer.entries = entries
      return { entries, bundle, federatedBundles: federated }
    },
  }
}

/** A manually advanced clock. */
export function manualClock(start = new Date()) {
  let now = start.getTime()
  return {
    clock: () => new Date(now),
    advance(ms: number) {
      now += ms
    },
  }
}

/** A gate: `gate.promise` resolves when `gate.open()` is called. */
export function gate() {
  let open = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}
