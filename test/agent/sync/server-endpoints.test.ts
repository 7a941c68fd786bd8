// The agent's server list: which server a call goes to (home first, then the list in order),
// down-with-backoff and recovery, the sync finding a server back, names resolved to every
// address and resolved again after a failure. Pure bookkeeping with an injected clock, random
// source and resolver; one case resolves `localhost` for real.
import t from 'tap'
import {
  failoverReason,
  type ServerEndpoint,
  ServerEndpoints,
  type ServerEndpointsOptions,
} from '../../../agent/sync/server-endpoints.js'
import { SigilError } from '../../../certs/errors.js'

/** A random source that returns `values` in turn, then 0.5 (no jitter). */
function sequence(...values: number[]): () => number {
  return () => values.shift() ?? 0.5
}

function endpoints(addresses: string[], extra: Partial<ServerEndpointsOptions> = {}) {
  const clock = { now: 1_000_000 }
  const failovers: [string, string, string | undefined][] = []
  const recovered: string[] = []
  const e = new ServerEndpoints({
    addresses,
    clockMs: () => clock.now,
    random: sequence(0),
    onFailover: (from, reason, to) => failovers.push([from.address, reason, to?.address]),
    onRecovered: (ep) => recovered.push(ep.address),
    ...extra,
  })
  return { e, clock, failovers, recovered }
}

const addrs = (list: readonly ServerEndpoint[]) => list.map((x) => x.address)

t.test('one address: always that server, down or not (as before failover existed)', async (t) => {
  const { e, failovers } = endpoints(['127.0.0.1:8081'])
  const [only] = await e.candidates('call')
  t.same(addrs(await e.candidates('call')), ['127.0.0.1:8081'])
  e.markDown(only!, 'connection_refused')
  t.same(addrs(await e.candidates('call')), ['127.0.0.1:8081'], 'a down server is still called')
  t.same(addrs(await e.candidates('sync')), ['127.0.0.1:8081'])
  t.same(failovers, [['127.0.0.1:8081', 'connection_refused', undefined]], 'counted, with nowhere to go')
  t.equal(e.healthyCount(), 0)
})

t.test('the home is picked at random; the others follow in list order', async (t) => {
  const list = ['a:1', 'b:1', 'c:1']
  t.same(addrs(await endpoints(list, { random: sequence(0) }).e.candidates('call')), ['a:1', 'b:1', 'c:1'])
  t.same(addrs(await endpoints(list, { random: sequence(0.5) }).e.candidates('call')), ['b:1', 'c:1', 'a:1'])
  t.same(addrs(await endpoints(list, { random: sequence(0.99) }).e.candidates('call')), ['c:1', 'a:1', 'b:1'])
  const { e } = endpoints(list, { random: sequence(0.5) })
  t.same(
    e.status().map((s) => [s.address, s.home, s.state]),
    [
      ['b:1', true, 'unknown'],
      ['c:1', false, 'unknown'],
      ['a:1', false, 'unknown'],
    ],
  )
  t.throws(() => new ServerEndpoints({ addresses: [] }), TypeError)
})

t.test(
  'down with backoff, calls move on, the sync finds the home back, then everything goes home',
  async (t) => {
    const { e, clock, failovers, recovered } = endpoints(['a:1', 'b:1', 'c:1'])
    const [a, b] = await e.candidates('call')
    e.markUp(a!)
    t.equal(e.healthyCount(), 3)

    e.markDown(a!, 'unavailable')
    t.same(failovers, [['a:1', 'unavailable', 'b:1']], 'one failover, to the next server')
    t.same(addrs(await e.candidates('call')), ['b:1', 'c:1', 'a:1'], 'the down home goes last')
    t.same(addrs(await e.candidates('sync')), ['b:1', 'c:1', 'a:1'], 'not due yet: the sync too')
    t.equal(e.healthyCount(), 2)
    const down = e.status().find((s) => s.address === 'a:1')!
    t.equal(down.state, 'down')
    t.equal(down.retryAt, clock.now + 1_000, 'first pause: 1 s (no jitter at 0.5)')

    e.markDown(a!, 'unavailable')
    t.equal(failovers.length, 1, 'a second failure within the pause counts once (calls in flight together)')
    t.equal(e.status().find((s) => s.address === 'a:1')!.consecutiveFailures, 1)

    clock.now += 1_000
    t.same(addrs(await e.candidates('call')), ['b:1', 'c:1', 'a:1'], 'calls keep to servers that answer')
    t.same(addrs(await e.candidates('sync')), ['a:1', 'b:1', 'c:1'], 'the sync tries the home once it is due')
    e.markDown(a!, 'connection_refused')
    t.equal(failovers.length, 1, 'a failed retry is not another failover')
    t.equal(e.status().find((s) => s.address === 'a:1')!.retryAt, clock.now + 2_000, 'the pause doubles')

    clock.now += 2_000
    const [due] = await e.candidates('sync')
    t.equal(due?.address, 'a:1')
    e.markUp(due!)
    t.same(recovered, ['a:1'], 'recovery reported')
    t.same(addrs(await e.candidates('call')), ['a:1', 'b:1', 'c:1'], 'back home')
    t.equal(e.status().find((s) => s.address === 'a:1')!.consecutiveFailures, 0)

    // every server down: all still offered, the one due first first
    e.markDown(a!, 'unavailable')
    clock.now += 10
    e.markDown(b!, 'deadline_exceeded')
    t.same(
      addrs(await e.candidates('call')),
      ['c:1', 'a:1', 'b:1'],
      'the one that answers, then the down ones by due time',
    )
    const third = (await e.candidates('call')).find((x) => x.address === 'c:1')!
    e.markDown(third, 'transport')
    t.same(addrs(await e.candidates('call')), ['a:1', 'b:1', 'c:1'], 'by the time each is due')
    t.equal(e.healthyCount(), 0)
    t.equal(failovers.at(-1)?.[2], undefined, 'the last one had nowhere to go')
  },
)

t.test('the pause grows to the cap', async (t) => {
  const { e, clock } = endpoints(['a:1', 'b:1'], { maxBackoffMs: 8_000 })
  const [a] = await e.candidates('call')
  const pauses: number[] = []
  for (let i = 0; i < 6; i++) {
    e.markDown(a!, 'unavailable')
    const at = e.status().find((s) => s.address === 'a:1')!.retryAt!
    pauses.push(at - clock.now)
    clock.now = at
  }
  t.same(pauses, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000])
})

t.test('a name is every address it resolves to, resolved again after a failure and every 30 s', async (t) => {
  const answers: Record<string, string[] | Error> = {
    'sigil.test': ['10.0.0.1', '10.0.0.2', '10.0.0.1'],
    'v6.test': ['fd00::1'],
  }
  const asked: string[] = []
  const lookup = async (host: string) => {
    asked.push(host)
    const a = answers[host]
    if (a instanceof Error || a === undefined) throw a ?? new Error('ENOTFOUND')
    return a
  }
  const { e, clock } = endpoints(['sigil.test:8081', '10.0.0.9:8081', 'v6.test:9'], { lookup })
  const first = await e.candidates('call')
  t.same(
    addrs(first),
    ['10.0.0.1:8081', '10.0.0.2:8081', '10.0.0.9:8081', '[fd00::1]:9'],
    'each address once',
  )
  t.same(
    first.map((x) => x.configured),
    ['sigil.test:8081', 'sigil.test:8081', '10.0.0.9:8081', 'v6.test:9'],
  )
  t.same(asked.sort(), ['sigil.test', 'v6.test'], 'names resolved, literals not')
  asked.length = 0
  await e.candidates('call')
  t.same(asked, [], 'not again within 30 s')

  e.markUp(first[1]!)
  e.markDown(first[0]!, 'connection_refused')
  answers['sigil.test'] = ['10.0.0.2', '10.0.0.3']
  const after = await e.candidates('call')
  t.same(asked, ['sigil.test'], 'the name of a server that stopped answering is resolved again')
  t.same(addrs(after), ['10.0.0.2:8081', '10.0.0.3:8081', '10.0.0.9:8081', '[fd00::1]:9'])
  t.equal(
    e.status().find((s) => s.address === '10.0.0.2:8081')?.state,
    'up',
    'a kept address keeps its state',
  )

  asked.length = 0
  answers['sigil.test'] = new Error('SERVFAIL')
  clock.now += 30_000
  t.same(
    addrs(await e.candidates('call')).slice(0, 2),
    ['10.0.0.2:8081', '10.0.0.3:8081'],
    'a failed lookup keeps the last addresses',
  )
  t.same(asked.sort(), ['sigil.test', 'v6.test'], 'every 30 s')

  const unresolved = endpoints(['nowhere.test:8081', '10.0.0.9:8081'], { lookup })
  t.same(
    addrs(await unresolved.e.candidates('call')),
    ['nowhere.test:8081', '10.0.0.9:8081'],
    'a name that never resolved is dialled as written (grpc-js resolves it)',
  )
})

t.test('localhost resolves for real', async (t) => {
  const e = new ServerEndpoints({ addresses: ['localhost:8081'] })
  const list = await e.candidates('call')
  t.ok(list.length >= 1)
  for (const x of list) {
    t.match(x.address, /^(127\.\d+\.\d+\.\d+|\[::1\]):8081$/, `${x.address} is a loopback address`)
    t.equal(x.configured, 'localhost:8081')
  }
})

t.test('failoverReason: only a server that does not answer', async (t) => {
  const grpc = (code: number, details: string) =>
    new SigilError('ERR_UNAVAILABLE', 'x', { cause: Object.assign(new Error(details), { code, details }) })
  t.equal(
    failoverReason(grpc(14, 'No connection established. Last error: connect ECONNREFUSED')),
    'connection_refused',
  )
  t.equal(failoverReason(grpc(14, 'Connection dropped')), 'unavailable')
  t.equal(failoverReason(grpc(4, 'Deadline exceeded')), 'deadline_exceeded')
  t.equal(
    failoverReason(
      new SigilError('ERR_UNAVAILABLE', 'x', { cause: Object.assign(new Error('t'), { code: 'ETIMEDOUT' }) }),
    ),
    'transport',
  )
  t.equal(failoverReason(grpc(13, 'internal')), undefined, 'INTERNAL: the server answered')
  t.equal(failoverReason(grpc(8, 'busy')), undefined, 'RESOURCE_EXHAUSTED: the server answered')
  t.equal(failoverReason(new SigilError('ERR_UNAVAILABLE', 'a bad answer')), undefined, 'no cause: ours')
  t.equal(failoverReason(new SigilError('ERR_NOT_AUTHORIZED', 'refused', { cause: new Error() })), undefined)
  t.equal(failoverReason(new TypeError('attest first')), undefined)
})
