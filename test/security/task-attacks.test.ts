// Attack family: tasks (issue 13). Real sigil-server and sigil-agent processes; the attackers are
// real workload processes on the agent socket (one of them as uid 65534 when run as root).
// An out-of-scope request ends the task as drifted (issue 14), so that attack uses a task of its own.
import { generateKeyPairSync } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import t from 'tap'
import { JwtSvidSigner } from '../../certs/jwtsvid/jwt-svid-signer.js'
import { SpiffeId } from '../../certs/spiffeid/spiffe-id.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { startTaskWorkload } from '../helpers/task-workload.js'

const TD = 'spiffe://example.org'
const WORKER = `${TD}/worker`
const NOBODY_ID = `${TD}/nobody`
const TOOL = `${TD}/tool-api`
const NOBODY = 65534
const isRoot = process.getuid?.() === 0
const uid = process.getuid?.() ?? 0

const node = await startSigilNode(t)
await node.createEntry(WORKER, [`unix:uid:${uid}`], ['--task-scope', TOOL, '--max-task-ttl', '5m'])
await node.createEntry(NOBODY_ID, [`unix:uid:${NOBODY}`], ['--task-scope', TOOL])
const socketPath = node.agent.socketPath
const victim = await startTaskWorkload(t, { dir: node.dir, socketPath })
const begun = await victim.request('begin', { options: { purpose: 'victim', scope: [TOOL], ttl: 120 } })
const victimTask = String(begun.taskId)
const victimTxn = String(begun.txnToken)

async function state(id: string): Promise<{ state: string; outcome: string }> {
  const r = await node.server.cli('task', 'show', '--task-id', id, '--output', 'json')
  return JSON.parse(r.stdout).task
}

// Attack: a process of another uid ends (or takes credentials of) root's task by its ID.
t.test(
  'a uid-65534 process can neither end root’s task nor fetch its JWT-SVIDs',
  { skip: isRoot ? false : 'needs root (the attacker runs as uid 65534)' },
  async (t) => {
    const attacker = await startTaskWorkload(t, { dir: node.dir, socketPath, uid: NOBODY, gid: NOBODY })
    t.match(await attacker.request('endRaw', { taskId: victimTask, outcome: 'completed' }), {
      ok: false,
      code: 7,
    })
    t.match(await attacker.request('jwtRaw', { taskId: victimTask, audience: TOOL }), { ok: false, code: 7 })
    t.equal((await state(victimTask)).state, 'active', 'the task is untouched')
  },
)

// Attack: another process of the same uid ends the task or takes its JWT-SVIDs.
t.test('another process of the same uid can neither end the task nor fetch its JWT-SVIDs', async (t) => {
  const attacker = await startTaskWorkload(t, { dir: node.dir, socketPath })
  t.match(await attacker.request('endRaw', { taskId: victimTask, outcome: 'completed' }), {
    ok: false,
    code: 7,
  })
  t.match(await attacker.request('jwtRaw', { taskId: victimTask, audience: TOOL }), { ok: false, code: 7 })
  t.match(await attacker.request('endRaw', { taskId: victimTask, outcome: 'process_exited' }), {
    ok: false,
    code: 3,
  })
  t.equal((await state(victimTask)).state, 'active')
})

// Attack: the task's own process escalates its audience: a JWT-SVID for a service outside the
// scope, a sub-task that widens the scope, or a parent Txn-Token with an edited scope.
// An audience outside the scope is drift (issue 14): the task ends `drifted`, its credentials die.
t.test('audience escalation: outside the scope, a widening sub-task, an edited Txn-Token', async (t) => {
  const own = await victim.request('begin', { options: { purpose: 'escalate', scope: [TOOL], ttl: 120 } })
  const escalating = String(own.taskId)
  t.match(await victim.request('jwt', { taskId: escalating, audience: `${TD}/admin` }), {
    ok: false,
    code: 'ERR_NOT_AUTHORIZED',
  })
  const show = JSON.parse(
    (await node.server.cli('task', 'show', '--task-id', escalating, '--output', 'json')).stdout,
  )
  t.ok(
    show.events.some(
      (e: { event: string; detail: string }) => e.event === 'jwt_refused' && /admin/.test(e.detail),
    ),
    'the refusal is recorded with the task',
  )
  t.match(show.task, { state: 'ended', outcome: 'drifted' }, 'the task drifted and was ended')
  const widened = await victim.request('begin', {
    options: { purpose: 'sub', scope: [TOOL, `${TD}/admin`], parentTxnToken: victimTxn },
  })
  t.match(widened, { ok: false, code: 'ERR_NOT_AUTHORIZED' })
  const [h, p, s] = victimTxn.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
  const edited = Buffer.from(
    JSON.stringify({ ...claims, scope: `${TD}/admin`, tctx: { ...claims.tctx, scope: [`${TD}/admin`] } }),
  ).toString('base64url')
  const tampered = await victim.request('begin', {
    options: { purpose: 'sub', scope: [TOOL], parentTxnToken: `${h}.${edited}.${s}` },
  })
  t.match(tampered, { ok: false, code: 'ERR_NOT_AUTHORIZED' })
  t.match(tampered.message, /signature/)
})

// Attack: a forged on_behalf_of — a JWT-SVID under our kid from a key the server never had, one
// of a foreign trust domain, one addressed to someone else, and an expired genuine one.
t.test('forged, foreign, misaddressed, expired and revoked on_behalf_of tokens are refused', async (t) => {
  const mintAlice = async (ttl: string) => {
    const minted = await node.server.cli(
      'jwt',
      'mint',
      '--spiffe-id',
      `${TD}/user/alice`,
      '--audience',
      WORKER,
      '--ttl',
      ttl,
    )
    t.equal(minted.code, 0, minted.stderr)
    return minted.stdout.trim()
  }
  const genuine = await mintAlice('5m')
  const kid = String(decodeProtectedHeader(genuine).kid)
  const rogue = new JwtSvidSigner({
    privateKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
    kid,
  })
  const sign = async (sub: string, aud: string) =>
    (await rogue.sign({ spiffeId: SpiffeId.parse(sub), audience: [aud], ttlSeconds: 60 })).token
  const elsewhere = await node.server.cli(
    'jwt',
    'mint',
    '--spiffe-id',
    `${TD}/user/bob`,
    '--audience',
    `${TD}/x`,
  )
  const cases: [string, string, RegExp][] = [
    ['forged under our kid', await sign(`${TD}/user/alice`, WORKER), /signature/],
    ['a foreign trust domain', await sign('spiffe://other.org/user/mallory', WORKER), /bundle/],
    ['addressed to another workload', elsewhere.stdout.trim(), /audience/],
  ]
  for (const [name, token, why] of cases) {
    const r = await victim.request('begin', { options: { purpose: 'x', scope: [TOOL], onBehalfOf: token } })
    t.match(r, { ok: false, code: 'ERR_NOT_AUTHORIZED' }, name)
    t.match(r.message, why, name)
  }
  const ok = await victim.request('begin', { options: { purpose: 'x', scope: [TOOL], onBehalfOf: genuine } })
  t.ok(ok.ok, `the genuine token is accepted while valid: ${ok.message}`)

  // expired: a 1 s token, used once its exp has passed (delegation tokens get no leeway)
  const short = await mintAlice('1s')
  const exp = Number(decodeJwt(short).exp)
  await sleep(Math.max(0, exp * 1000 + 1_100 - Date.now()))
  const late = await victim.request('begin', {
    options: { purpose: 'x', scope: [TOOL], onBehalfOf: short },
  })
  t.match(late, { ok: false, code: 'ERR_NOT_AUTHORIZED' }, 'expired')
  t.match(late.message, /expired/)

  // Attack: a stolen delegation token replayed after the operator revoked it.
  const jti = String(decodeJwt(genuine).jti)
  const revoked = await node.server.cli('svid', 'revoke', '--jti', jti, '--reason', 'leaked')
  t.equal(revoked.code, 0, revoked.stderr)
  const replay = await victim.request('begin', {
    options: { purpose: 'x', scope: [TOOL], onBehalfOf: genuine },
  })
  t.match(replay, { ok: false, code: 'ERR_NOT_AUTHORIZED' }, 'revoked')
  t.match(replay.message, /revoked/)
})

// Attack: one process floods BeginTask (10,000 calls) to exhaust the server's task table.
t.test('10,000 BeginTask calls from one process: capped, the rest RESOURCE_EXHAUSTED', async (t) => {
  const flooder = await startTaskWorkload(t, { dir: node.dir, socketPath })
  const res = await flooder.request('flood', {
    count: 10_000,
    concurrency: 32,
    request: { purpose: 'flood', scope: [TOOL], ttl_seconds: 60 },
  })
  t.ok(res.ok, String(res.message))
  const codes = res.codes as Record<string, number>
  t.equal(codes['0'], 64, 'exactly the per-process cap succeeds')
  t.equal(codes['8'], 10_000 - 64, 'every other call is RESOURCE_EXHAUSTED')
  const active = JSON.parse(
    (await node.server.cli('task', 'list', '--state', 'active', '--output', 'json')).stdout,
  )
  t.ok(active.tasks.length <= 64 + 5, `the server holds ${active.tasks.length} active tasks`)
  t.equal((await state(victimTask)).state, 'active', 'the victim is undisturbed')
  t.ok((await victim.request('jwt', { taskId: victimTask, audience: TOOL })).ok, 'and still served')
})
