// The real sigil-server and sigil-agent processes: workloads spawned as other uids and running
// different scripts get exactly the identities their selectors match, each process its own key
// and serial, and a killed process's SVIDs are dropped (issue 4 acceptance).
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import {
  type JsonLine,
  printedSvids,
  runAgentCliAs,
  type SvidFacts,
  startSigilNode,
  startWorkload,
  type Workload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'

const TD = 'spiffe://example.org'
const node = await startSigilNode(t)
const scripts = mkdtempSync(join(node.dir, 'w-'))
chmodSync(scripts, 0o755)
const plain = writeWorkloadScript(scripts, 'plain.mjs')
const scriptA = writeWorkloadScript(scripts, 'a.mjs')
const scriptB = writeWorkloadScript(scripts, 'b.mjs')
const bundlePem = readFileSync(node.bundlePath, 'utf8')

await node.createEntry(`${TD}/uid/4101`, ['unix:uid:4101'])
await node.createEntry(`${TD}/uid/4101/group-4111`, ['unix:uid:4101', 'unix:gid:4111'])
await node.createEntry(`${TD}/uid/4102`, ['unix:uid:4102'])
await node.createEntry(`${TD}/script/a`, ['unix:uid:4103', `proc:script:${scriptA}`])
await node.createEntry(`${TD}/script/b`, ['unix:uid:4103', `proc:script:${scriptB}`])

const run = (script: string, uid: number, gid = uid): Workload =>
  startWorkload(t, { script, socketPath: node.agent.socketPath, uid, gid })

/** The SVIDs of a workload's first answer; fails the test on an error answer. */
async function firstSvids(w: Workload): Promise<SvidFacts[]> {
  const line: JsonLine = await w.next('update')
  if (line.kind !== 'update') throw new Error(`workload ${w.pid} got ${JSON.stringify(line)}`)
  return printedSvids(line)
}

function ids(svids: readonly SvidFacts[]): string[] {
  return svids.map((s) => s.spiffeId).sort()
}

t.test('processes of different uids and gids get exactly the identities their selectors match', async (t) => {
  const cases = [
    { uid: 4101, gid: 4101, want: [`${TD}/uid/4101`] },
    { uid: 4101, gid: 4111, want: [`${TD}/uid/4101`, `${TD}/uid/4101/group-4111`] },
    { uid: 4102, gid: 4102, want: [`${TD}/uid/4102`] },
  ]
  for (const c of cases) {
    const w = run(plain, c.uid, c.gid)
    const svids = await firstSvids(w)
    t.same(ids(svids), c.want, `uid ${c.uid} gid ${c.gid}`)
    for (const s of svids) {
      t.equal(s.uriSan, `URI:${s.spiffeId}`, 'the URI SAN is the SPIFFE ID')
      t.ok(s.keyMatches, 'the key belongs to the leaf')
      t.equal(s.bundlePem, bundlePem, 'our bundle')
    }
    const attested = await node.agent.logs.waitFor(
      (l) => l.msg === 'workload attested' && l.pid === w.pid,
      `attestation log of ${w.pid}`,
    )
    t.ok((attested.selectors as string[]).includes(`unix:uid:${c.uid}`), 'attested by the kernel uid')
    t.ok((attested.selectors as string[]).includes(`unix:gid:${c.gid}`), 'attested by the kernel gid')
    await w.stop()
  }
})

t.test('a process that matches no entry gets PermissionDenied', async (t) => {
  const cli = await runAgentCliAs(4109, 4109, [
    'api',
    'fetch',
    'x509',
    '--socket-path',
    node.agent.socketPath,
  ])
  t.equal(cli.code, 1, 'the CLI fails')
  t.equal(cli.stderr.trim().split('\n').length, 1, 'with one line')
  t.match(cli.stderr, /PERMISSION_DENIED/)
  t.equal(cli.stdout, '')

  // uid 4103 has entries, but only for two given scripts: any other script matches nothing.
  const w = run(plain, 4103)
  const answer = await w.next('update')
  t.equal(answer.kind, 'error')
  t.equal(answer.code, status.PERMISSION_DENIED)
})

t.test('two node processes of one uid running different scripts get different SPIFFE IDs', async (t) => {
  const a = run(scriptA, 4103)
  const b = run(scriptB, 4103)
  t.same(ids(await firstSvids(a)), [`${TD}/script/a`])
  t.same(ids(await firstSvids(b)), [`${TD}/script/b`])
  await Promise.all([a.stop(), b.stop()])
})

t.test('processes of one script share a SPIFFE ID, never a key; a killed one loses its SVID', async (t) => {
  const first = run(scriptA, 4103)
  const second = run(scriptA, 4103)
  const [one] = await firstSvids(first)
  const [two] = await firstSvids(second)
  if (!one || !two) throw new Error('no SVID')
  t.equal(one.spiffeId, `${TD}/script/a`)
  t.equal(two.spiffeId, `${TD}/script/a`, 'same SPIFFE ID')
  t.not(one.serial, two.serial, 'different serials')
  t.not(one.publicKey, two.publicKey, 'different keys')
  t.ok(one.keyMatches && two.keyMatches)

  const logFrom = node.agent.logs.lines.length
  first.child.kill('SIGKILL')
  const dropped = await node.agent.logs.waitFor(
    (l) => l.pid === first.pid && /dropped its SVIDs/.test(String(l.msg)),
    `the agent drops the SVIDs of killed pid ${first.pid}`,
    10_000,
    logFrom,
  )
  t.ok(dropped, String(dropped.msg))

  const third = run(scriptA, 4103)
  const [three] = await firstSvids(third)
  t.equal(three?.spiffeId, `${TD}/script/a`)
  t.not(three?.serial, one.serial, 'the killed process SVID is not re-served')
  t.not(three?.publicKey, one.publicKey, 'nor its key')
  t.not(three?.serial, two.serial)

  const again = await second.fetch()
  t.equal(again.kind, 'fetch', 'the surviving process is still served')
  t.equal(printedSvids(again)[0]?.serial, two.serial, 'with its own SVID, unchanged')
  t.notOk(
    second.output.lines.some((l) => l.kind === 'error' || l.kind === 'end'),
    'its stream was not disturbed',
  )
  await Promise.all([second.stop(), third.stop()])
})
