// The agent's WIT-SVIDs per process (FetchWITSVID): one key pair and WIT per process and entry,
// minted through a fake server that really signs; shared by a process's streams; renewed with a
// new key at half-life (the timer path, on a manual clock); the current one kept through a
// server outage; dropped on no-identity and when the last stream ends.
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import type { IdentitySnapshot, IdentityUpdate } from '../../../agent/cache/identity-subscription.js'
import {
  RENEWAL_RETRY_MS,
  type WitIdentitySnapshot,
  WitSvidSource,
  type WitUpdates,
} from '../../../agent/cache/wit-svid-source.js'
import type { WorkloadProcess } from '../../../agent/cache/workload-process.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { SigilError } from '../../../certs/errors.js'
import { SpiffeId } from '../../../certs/spiffeid/spiffe-id.js'
import { TrustDomain } from '../../../certs/spiffeid/trust-domain.js'
import { parsePublicJwkString, privateKeyFromJwkString } from '../../../certs/witsvid/confirmation-key.js'
import { validateWitSvid } from '../../../certs/witsvid/validate-wit-svid.js'
import { WitSvidSigner } from '../../../certs/witsvid/wit-svid-signer.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { collectingLogger, entry, manualClock } from './fake-server.js'

const td = TrustDomain.parse('example.org')
const witKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
const bundle = TrustBundle.create({
  trustDomain: td,
  witAuthorities: [{ kid: 'w', publicKey: witKey.publicKey }],
})
const signer = new WitSvidSigner({ privateKey: witKey.privateKey, kid: 'w' })
const web = entry({ id: 'e-web', path: '/web', selectors: ['unix:uid:1'], hint: 'internal' })
const api = entry({ id: 'e-api', path: '/api', selectors: ['unix:uid:1'] })
const proc: WorkloadProcess = { pid: 42, startTime: 7, selectors: [] }

function snapshot(...entries: (typeof web)[]): IdentitySnapshot {
  return {
    svids: entries.map((e) => ({
      entry: e,
      spiffeId: e.spiffeId,
      chainDer: [],
      privateKeyPkcs8Der: Buffer.alloc(0),
      serial: '01',
      notAfter: new Date(Date.now() + 3_600_000),
      hint: e.hint,
    })),
    bundle,
    federatedBundles: new Map(),
  }
}

/** A hand-fed X509 subscription. */
function feed() {
  const queue: (IdentityUpdate | undefined)[] = []
  let waiter: ((u: IdentityUpdate | undefined) => void) | undefined
  let closed = false
  const sub: WitUpdates = {
    next: () => {
      const u = queue.shift()
      if (u !== undefined || closed) return Promise.resolve(u)
      return new Promise((resolve) => {
        waiter = resolve
      })
    },
    close: () => {
      closed = true
      waiter?.(undefined)
    },
  }
  const push = (u: IdentityUpdate) => {
    if (waiter) {
      const w = waiter
      waiter = undefined
      w(u)
    } else queue.push(u)
  }
  return { sub, push }
}

function setup() {
  const mc = manualClock()
  const { logger, lines } = collectingLogger()
  const calls: string[] = []
  let down = false
  const feeds: ReturnType<typeof feed>[] = []
  const source = new WitSvidSource({
    issuer: {
      newWitSvid: async (entryId, jwk) => {
        calls.push(entryId)
        if (down) throw new SigilError('ERR_UNAVAILABLE', 'server down')
        const e = [web, api].find((x) => x.id === entryId)!
        const { publicKey, alg } = parsePublicJwkString(jwk)
        const m = signer.sign({
          spiffeId: SpiffeId.parse(e.spiffeId),
          workloadKey: publicKey,
          workloadAlgorithm: alg,
          ttlSeconds: 60,
          now: mc.clock(),
        })
        return { token: m.token, spiffeId: e.spiffeId, issuedAt: m.issuedAt, expiresAt: m.expiresAt }
      },
    },
    identities: {
      subscribe: () => {
        const f = feed()
        feeds.push(f)
        return f.sub
      },
    },
    clock: mc.clock,
    logger,
    random: () => 0.5,
  })
  return { mc, source, calls, feeds, lines, setDown: (v: boolean) => (down = v) }
}

const wits = async (u: Promise<IdentityUpdate | undefined>) => {
  const v = await u
  if (v?.kind !== 'identity') throw new Error(`expected an identity, got ${JSON.stringify(v)}`)
  return (v.snapshot as WitIdentitySnapshot).wits
}

t.test('one WIT per entry, its key the cnf key; a second stream of the process shares them', async (t) => {
  const { source, calls, feeds, mc } = setup()
  const a = source.subscribe(proc)
  feeds[0]!.push({ kind: 'identity', snapshot: snapshot(web, api) })
  const first = await wits(a.next())
  t.same(
    first.map((w) => [w.spiffeId, w.hint]),
    [
      ['spiffe://example.org/web', 'internal'],
      ['spiffe://example.org/api', ''],
    ],
  )
  for (const w of first) {
    const v = validateWitSvid(w.token, { bundleFor: () => bundle, now: mc.clock() })
    t.ok(v.confirmationKey.equals(createPublicKey(privateKeyFromJwkString(w.privateKeyJwk).privateKey)))
  }
  t.not(first[0]!.privateKeyJwk, first[1]!.privateKeyJwk, 'a key pair per entry')
  const b = source.subscribe(proc)
  feeds[1]!.push({ kind: 'identity', snapshot: snapshot(web, api) })
  const second = await wits(b.next())
  t.same(
    second.map((w) => w.token),
    first.map((w) => w.token),
    'the same WITs for the same process',
  )
  t.equal(calls.length, 2, 'two mints in all')
  a.close()
  t.equal(source.processCount, 1, 'kept while a stream is open')
  b.close()
  t.equal(source.processCount, 0, 'dropped with the last stream')
})

t.test('renewed with a new key at half-life, without an X509 update (timer)', async (t) => {
  const { source, feeds, mc } = setup()
  const s = source.subscribe(proc)
  t.teardown(() => s.close())
  feeds[0]!.push({ kind: 'identity', snapshot: snapshot(web) })
  const [first] = await wits(s.next())
  mc.advance(31_000) // past 50 % of the 60 s life
  const [renewed] = await wits(s.next())
  t.not(renewed!.token, first!.token)
  t.not(renewed!.privateKeyJwk, first!.privateKeyJwk, 'a new key pair')
})

t.test('a server outage keeps the current WIT until it expires; without one the stream fails', async (t) => {
  const { source, feeds, mc, setDown, lines } = setup()
  const s = source.subscribe(proc)
  t.teardown(() => s.close())
  feeds[0]!.push({ kind: 'identity', snapshot: snapshot(web) })
  const [first] = await wits(s.next())
  setDown(true)
  mc.advance(31_000)
  feeds[0]!.push({ kind: 'identity', snapshot: snapshot(web, api) })
  await t.rejects(s.next(), { code: 'ERR_UNAVAILABLE' }, 'api has no WIT to fall back on')
  t.ok(
    lines.some((l) => /serving the current one/.test(String(l.msg))),
    'web fell back with a warning',
  )
  const other = source.subscribe({ ...proc, pid: 43 })
  t.teardown(() => other.close())
  feeds[1]!.push({ kind: 'identity', snapshot: snapshot(web) })
  await t.rejects(other.next(), { code: 'ERR_UNAVAILABLE' })
  t.ok(first)
})

t.test('no-identity passes through and drops the process WITs', async (t) => {
  const { source, feeds } = setup()
  const s = source.subscribe(proc)
  t.teardown(() => s.close())
  feeds[0]!.push({ kind: 'identity', snapshot: snapshot(web) })
  await wits(s.next())
  feeds[0]!.push({ kind: 'no-identity', reason: 'process-gone' })
  t.same(await s.next(), { kind: 'no-identity', reason: 'process-gone' })
  t.equal(source.processCount, 0)
})

t.test('a failed renewal is retried after a pause, not on every tick', async (t) => {
  const { source, feeds, mc, setDown, calls } = setup()
  const s = source.subscribe(proc)
  t.teardown(() => s.close())
  feeds[0]!.push({ kind: 'identity', snapshot: snapshot(web) })
  await wits(s.next())
  setDown(true)
  mc.advance(31_000)
  const pending = s.next()
  await waitUntil('the renewal attempt', () => calls.length === 2)
  await waitUntil(
    'the retry to be scheduled',
    () => source.renewalDue(proc)?.getTime() === mc.clock().getTime() + RENEWAL_RETRY_MS,
  )
  t.pass(`next attempt ${RENEWAL_RETRY_MS} ms later`)
  s.close()
  t.equal(await pending, undefined)
})

t.test('a revoked WIT is dropped and the stream gets a new one at once', async (t) => {
  const { source, feeds, calls } = setup()
  const s = source.subscribe(proc)
  t.teardown(() => s.close())
  feeds[0]!.push({ kind: 'identity', snapshot: snapshot(web) })
  const [first] = await wits(s.next())
  const jti = String(JSON.parse(Buffer.from(first!.token.split('.')[1]!, 'base64url').toString()).jti)
  const pending = s.next()
  t.equal(
    source.dropRevoked((j) => j === 'someone-else'),
    0,
    'nothing else dropped',
  )
  t.equal(
    source.dropRevoked((j) => j === jti),
    1,
  )
  const [fresh] = await wits(pending)
  t.not(fresh!.token, first!.token)
  t.not(fresh!.privateKeyJwk, first!.privateKeyJwk)
  t.equal(calls.length, 2)
})
