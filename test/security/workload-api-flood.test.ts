// Workload API resource exhaustion (issue 11, finding 3), against the real sigil-server and
// sigil-agent processes: one workload floods the agent with streams it never reads, on several
// connections, and a caller with no entry floods it with streams that are refused.
import { spawn } from 'node:child_process'
import { chmodSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { status } from '@grpc/grpc-js'
import t from 'tap'
import { REFUSALS_BEFORE_HOLD } from '../../agent/workloadapi/caller-limits.js'
import { DEFAULT_MAX_STREAMS_PER_CONNECTION as MAX_STREAMS_PER_CONNECTION } from '../../agent/workloadapi/workload-api-server.js'
import {
  type JsonLine,
  JsonLines,
  startSigilNode,
  startWorkload,
  writeWorkloadScript,
} from '../helpers/agent-process.js'
import { ROOT } from '../helpers/server-process.js'
import { waitUntil } from '../helpers/wait-until.js'

const TD = 'spiffe://example.org'
const FLOODER_UID = 4201
const VICTIM_UID = 4202
const STRANGER_UID = 4203
const FORKER_UID = 4204
/** Scaled down from the report (4 connections × 5,000 streams) to run on 2 cores in CI. */
const CONNECTIONS = 4
const STREAMS_PER_CONNECTION = 400
/** What this test gives the agent; the flooder's 4th connection is over the per-process cap. */
const MAX_CONNECTIONS_PER_PROCESS = 3
const MAX_STREAMS_PER_PROCESS = 64
/** Room for two flooder processes' shares, not three: a uid cannot fork past its stream limit. */
const MAX_STREAMS_PER_UID = 2 * MAX_STREAMS_PER_PROCESS

/** The flooder: the benchmark's (scripts/bench/flood-client.ts), compiled. */
const FLOOD_CLIENT = join(ROOT, 'dist/scripts/bench/flood-client.js')

if (process.getuid?.() === 0) await floodTests()
else t.skip('Workload API flood tests need root: the flooder and the victim run as other uids', () => {})

async function floodTests(): Promise<void> {
  const node = await startSigilNode(t, {
    agentArgs: [
      '--max-connections-per-process',
      String(MAX_CONNECTIONS_PER_PROCESS),
      '--max-streams-per-process',
      String(MAX_STREAMS_PER_PROCESS),
      '--max-streams-per-uid',
      String(MAX_STREAMS_PER_UID),
    ],
  })
  const scripts = mkdtempSync(join(node.dir, 'w-'))
  chmodSync(scripts, 0o755)
  const victimScript = writeWorkloadScript(scripts, 'victim.mjs')
  await node.createEntry(`${TD}/flooder`, [`unix:uid:${FLOODER_UID}`])
  await node.createEntry(`${TD}/victim`, [`unix:uid:${VICTIM_UID}`])
  await node.createEntry(`${TD}/forker`, [`unix:uid:${FORKER_UID}`])

  /** Runs the flooder as `uid` (uninstrumented node, like startWorkload); stopped at teardown. */
  function spawnFlooder(uid: number, connections: number, perConnection: number) {
    const child = spawn(
      '/usr/bin/env',
      [
        '-u',
        'NODE_OPTIONS',
        process.execPath,
        FLOOD_CLIENT,
        node.agent.socketPath,
        String(connections),
        String(perConnection),
      ],
      {
        cwd: '/',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        stdio: ['pipe', 'pipe', 'inherit'],
        uid,
        gid: uid,
      },
    )
    const exited = new Promise((resolve) => child.once('exit', resolve))
    t.teardown(async () => {
      child.stdin?.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    })
    return {
      child,
      output: new JsonLines(child.stdout),
      stop: () => {
        child.stdin?.end()
        return exited
      },
    }
  }

  t.test(
    'a workload that opens thousands of never-read streams on several connections cannot starve another workload',
    async (t) => {
      const victim = startWorkload(t, {
        script: victimScript,
        socketPath: node.agent.socketPath,
        uid: VICTIM_UID,
      })
      const first = await victim.next('update')
      t.equal(first.kind, 'update', 'the victim has its SVID before the flood')

      const logFrom = node.agent.logs.lines.length
      const flooder = spawnFlooder(FLOODER_UID, CONNECTIONS, STREAMS_PER_CONNECTION)
      const total = CONNECTIONS * STREAMS_PER_CONNECTION
      await flooder.output.waitFor((l) => l.opened === total, 'the flooder opened all its streams', 30_000)

      // During the flood, every fetch of the other workload succeeds.
      const answers: JsonLine[] = []
      for (let i = 0; i < 10; i++) answers.push(await victim.fetch(30_000))
      t.same(
        answers.map((a) => a.kind),
        answers.map(() => 'fetch'),
        'every fetch of the other workload succeeds during the flood',
      )

      // The agent serves the flooder its per-process share, refuses some streams past it and
      // then holds the flooder's connections back at HTTP/2: the rest of its streams wait in
      // the flooder's own HTTP/2 client instead of being refused one by one by the agent.
      const settled = await flooder.output.waitFor(
        (l) =>
          l.served === MAX_STREAMS_PER_PROCESS &&
          ((l.codes as Record<string, number>)[String(status.UNAVAILABLE)] ?? 0) >= STREAMS_PER_CONNECTION &&
          ((l.codes as Record<string, number>)[String(status.RESOURCE_EXHAUSTED)] ?? 0) >=
            REFUSALS_BEFORE_HOLD,
        `the flooder is served its ${MAX_STREAMS_PER_PROCESS} streams, its connection over the per-process cap is refused and ${REFUSALS_BEFORE_HOLD} of its streams are`,
        40_000,
      )
      const codes = settled.codes as Record<string, number>
      const exhausted = codes[String(status.RESOURCE_EXHAUSTED)] ?? 0
      t.ok(
        exhausted <= REFUSALS_BEFORE_HOLD + (MAX_CONNECTIONS_PER_PROCESS + 1) * MAX_STREAMS_PER_CONNECTION,
        `the agent refused ${exhausted} of ${total} streams itself, at most its threshold plus what was in flight (${JSON.stringify(codes)})`,
      )
      t.ok(
        (settled.pending as number) - (settled.served as number) > total / 2,
        `${(settled.pending as number) - (settled.served as number)} streams wait in the flooder's own HTTP/2 client`,
      )
      t.ok(
        node.agent.logs.lines
          .slice(logFrom)
          .some((l) => typeof l.msg === 'string' && /held back/.test(l.msg)),
        'holding the flooder back is logged',
      )

      for (let i = 0; i < 3; i++) {
        const a = await victim.fetch(30_000)
        t.equal(a.kind, 'fetch', 'the other workload still fetches after the flood')
      }
      t.equal(node.agent.child.exitCode, null, 'the agent is still running')

      const refusals = node.agent.logs.lines
        .slice(logFrom)
        .filter((l) => typeof l.msg === 'string' && /refus|limit|exhaust/i.test(l.msg))
      t.ok(refusals.length > 0, 'the refusals are logged')
      t.ok(
        refusals.length < exhausted / 10,
        `the log has far fewer refusal lines (${refusals.length}) than refused streams (${exhausted})`,
      )
      await flooder.stop()
      await victim.stop()
    },
  )

  // One uid forks: three flooder processes, each within its own per-process share, together
  // past the uid's stream limit.
  t.test('a workload that forks cannot hold more streams than its uid may', async (t) => {
    const logFrom = node.agent.logs.lines.length
    const flooders = [0, 1, 2].map(() => spawnFlooder(FORKER_UID, 1, 300))
    const served = () => flooders.reduce((n, f) => n + ((f.output.lines.at(-1)?.served as number) ?? 0), 0)
    await waitUntil(
      `the uid's three processes served ${MAX_STREAMS_PER_UID} streams together`,
      () => served() === MAX_STREAMS_PER_UID,
      { timeoutMs: 40_000 },
    )
    // a moment later still no more (each report comes every 200 ms)
    await new Promise((r) => setTimeout(r, 1_000))
    t.equal(
      served(),
      MAX_STREAMS_PER_UID,
      `the uid's three processes hold ${MAX_STREAMS_PER_UID} streams, not ${3 * MAX_STREAMS_PER_PROCESS}`,
    )
    t.ok(
      node.agent.logs.lines
        .slice(logFrom)
        .some((l) => l.msg === 'Workload API stream refused: the uid is at its stream limit'),
      'the refusal names the uid limit',
    )
    for (const f of flooders) await f.stop()
  })

  // A caller with no entry opening thousands of streams: each ends PERMISSION_DENIED, and the
  // agent does not write one warning per stream.
  t.test('a caller with no entry opening many streams does not flood the log', async (t) => {
    const logFrom = node.agent.logs.lines.length
    const stranger = spawnFlooder(STRANGER_UID, 1, 2_000)
    const done = await stranger.output.waitFor(
      (l) => l.opened === 2_000 && l.pending === 0,
      'every stream of the caller with no entry ended',
      40_000,
    )
    const codes = done.codes as Record<string, number>
    const denied = codes[String(status.PERMISSION_DENIED)] ?? 0
    t.ok(denied > 0, `its streams end with PERMISSION_DENIED (${JSON.stringify(codes)})`)
    const warnings = node.agent.logs.lines.slice(logFrom).filter((l) => l.level === 'warn')
    t.ok(warnings.length < 2_000 / 10, `${warnings.length} warning lines for 2,000 refused streams`)
    t.equal(node.agent.child.exitCode, null, 'the agent is still running')
    await stranger.stop()
  })
}
