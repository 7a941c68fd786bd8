// `npm run demo` (scripts/demo/run-demo.ts): the multi-agent pipeline runs for real — server,
// agent, four component processes, two rogues — and exits 0 only when every expected outcome
// happened; the timeline shows identities, rotations and every refusal with its reason, the
// governed tasks (a task on behalf of alice, sub-tasks under its Txn-Token, tool-api showing
// the whole chain, the ended tasks' credentials refused on their next use), and
// every line it prints fits 100 columns (test/scripts/demo/timeline.test.ts checks the
// worst cases); no child process or temp dir outlives it, also when it is interrupted with
// Ctrl-C (SIGINT).
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ROOT } from '../helpers/server-process.js'

const DEMO = join(ROOT, 'dist/scripts/demo/run-demo.js')
const COMPONENTS = ['tool-api', 'executor', 'researcher', 'planner']

// The demo's own run time plus start-up and shutdown of a server, an agent and six processes.
t.setTimeout(240_000)

/** Runs the demo; `when` the output matches, `act` is called once with the output so far and the child's pid. */
function runDemo(env: Record<string, string>, when?: RegExp, act?: (stdout: string, pid: number) => void) {
  // The demo runs as a user would run it: tap puts its instrumentation into every child's
  // NODE_OPTIONS (even one spawned without it), and the agent rightly withholds proc:script
  // from a node given --import; `env -u` drops it and execs node in place (same pid).
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, DEMO], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString()
    if (when?.test(stdout)) {
      when = undefined
      act?.(stdout, child.pid ?? 0)
    }
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  )
}

/** The demo's output with wrapped lines joined again (continuations: 28, 13 or 4 spaces). */
function unwrap(stdout: string): string {
  return stdout.replace(/\n(?: {28}| {13}| {4})(?=[^\s+])/g, ' ')
}

/** The demo's output from its summary on. */
function summaryOf(out: string): string {
  return out.slice(out.indexOf('\nSummary\n'))
}

/** Every pid the demo reported starting (server, agent, components), and its work dir. */
function leftovers(stdout: string): { pids: number[]; dir: string } {
  const pids = [...stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]))
  return { pids, dir: /work dir (\S+)/.exec(stdout)?.[1] ?? '' }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

t.test('the demo pipeline runs, rotates, refuses every rogue and wrong peer, and exits 0', async (t) => {
  const run = await runDemo({ DEMO_SECONDS: '24', DEMO_SVID_TTL: '12', DEMO_JWT_TTL: '12' })
  t.equal(run.code, 0, 'exit code 0', { output: `${run.stdout}\n${run.stderr}` })
  // Every line the demo prints fits 100 columns; longer texts wrap under their column.
  const lines = run.stdout.split('\n')
  const wide = lines.filter((l) => [...l].length > 100)
  t.same(wide, [], `every one of ${lines.length} lines fits 100 columns`)
  const out = unwrap(run.stdout)
  t.match(out, /How to read: \+12\.3s is the time since the demo started/)
  t.match(out, /\/demo\/planner is the SPIFFE ID spiffe:\/\/example\.org\/demo\/planner;/)
  t.match(out, /\[1a2b3c4d\] is the start of an X509-SVID serial number \(8 hex digits\)/)
  for (const name of COMPONENTS) {
    t.match(
      out,
      new RegExp(`${name}\\s+got identity spiffe://example\\.org/demo/${name} \\[[0-9a-f]{8}\\]\n`),
      'the identity line names the ID once',
    )
    t.match(
      out,
      new RegExp(`${name}\\s+↻ rotated: \\[[0-9a-f]{8}\\] → \\[[0-9a-f]{8}\\], expires \\d\\d:`),
      `${name} rotated`,
    )
    t.match(out, new RegExp(`✓ ${name} rotated its X509-SVID at least once`))
  }
  t.match(out, /A task line shows the serial each of them presented, in that order; \* marks a new one/)
  t.match(out, /planner\s+✓ task 1: \[[0-9a-f]{8}\] → \[[0-9a-f]{8}\] → \[[0-9a-f]{8}\] → \[[0-9a-f]{8}\]\n/)
  t.match(out, /planner\s+✓ task \d+: .*\]\*/, 'a rotation shows up in the pipeline')
  t.notMatch(out, /FAILED|NOT REFUSED|FAILURE/)

  // Wrong peers, refused on the side that decides, with the reason.
  t.match(
    out,
    /executor\s+✗ refused mTLS connection from \/demo\/planner: .*expected "\/demo\/researcher" \[ERR_NOT_AUTHORIZED\]/,
  )
  t.match(out, /tool-api\s+✗ refused JWT-SVID from \/demo\/planner: .*\[ERR_NOT_AUTHORIZED\]/)
  t.match(out, /tool-api\s+✗ refused JWT-SVID from \/demo\/executor: .*\[ERR_JWT_AUDIENCE_MISMATCH\]/)
  t.match(
    out,
    /planner\s+✓ refused as expected: planner dials tool-api's address expecting researcher — .*ERR_NOT_AUTHORIZED/,
  )

  // The rogues.
  t.match(
    out,
    /rogue-unregistered\s+✓ refused as expected: unregistered script asks for an X509-SVID — .*PERMISSION_DENIED.*\[ERR_NOT_AUTHORIZED\]/,
  )
  t.match(out, /rogue-unregistered\s+✓ refused as expected: unregistered script asks for a JWT-SVID/)
  t.match(
    out,
    /rogue-copycat\s+✓ refused as expected: present the copied \/demo\/planner certificate with its own key/,
  )
  t.match(out, /researcher\s+✗ refused TLS handshake: peer did not return a certificate/)
  t.match(
    out,
    /researcher\s+✗ refused TLS handshake: the client certificate does not chain to a CA of the trust bundle/,
  )

  // The governed tasks: entries that may begin tasks, the operator's token for alice (never
  // printed), a task on her behalf, sub-tasks under it, the whole chain at tool-api.
  for (const name of ['executor', 'researcher', 'planner']) {
    t.match(out, new RegExp(`entry /demo/${name} ← .*; tasks may call /demo/tool-api for ≤ 1m`))
  }
  t.match(
    out,
    /entry \/demo\/tool-api ← unix:uid:\d+ \+ proc:script:…\/tool-api\.js\n/,
    'tool-api begins no task',
  )
  t.match(out, /operator: sigil-server jwt mint --spiffe-id \/user\/alice --audience \/demo\/planner/)
  t.notMatch(run.stdout, /eyJ[\w-]+\.eyJ/, 'no token is ever printed')
  for (const run of [1, 2]) {
    const began = new RegExp(
      `planner\\s+▶ began task \\{([0-9a-f]{8})\\}: "run ${run}: [^"]+", on behalf of /user/alice;`,
    ).exec(out)
    t.ok(began, `planner began governed task ${run} on behalf of alice`)
    for (const name of ['researcher', 'executor']) {
      t.match(
        out,
        new RegExp(
          `${name}\\s+▶ began task \\{[0-9a-f]{8}\\}: "run ${run}: [^"]+", ` +
            `sub-task of \\{${began?.[1]}\\} for /user/alice;`,
        ),
        `${name} began a sub-task of planner's task ${run}`,
      )
    }
  }
  t.match(
    out,
    /tool-api\s+✓ task request, chain \/user\/alice → \/demo\/planner → \/demo\/executor \(task \{/,
  )
  t.match(
    out,
    /tool-api\s+✓ task request, chain \/user\/alice → \/demo\/planner → \/demo\/researcher \(task \{/,
  )
  // Task 1 completes; a replay of executor's credentials is refused, with the time it took.
  t.match(out, /executor\s+■ ended task \{[0-9a-f]{8}\}: completed\n/)
  t.match(out, /planner\s+■ ended task \{[0-9a-f]{8}\}: completed\n/)
  t.match(out, /planner\s+✓ governed task 1 completed as planned/)
  // Its Txn-Token died with it: a new sub-task under it is refused by the server.
  t.match(
    out,
    /planner\s+✓ refused as expected: planner reuses its ended task's Txn-Token for a new sub-task — HTTP 403: .*the Txn-Token is revoked/,
  )
  t.match(out, /researcher\s+✗ refused task credentials from \/demo\/planner: .*\[ERR_NOT_AUTHORIZED\]/)
  // Task 2 fails midway: executor ends its sub-task as failed and its credentials die at once.
  t.match(
    out,
    /executor\s+· step 2: tool-api answered 503: the tool failed on \/tool \(run 2\); ending the sub-task as failed/,
  )
  t.match(out, /executor\s+■ ended task \{[0-9a-f]{8}\}: failed\n/)
  t.match(out, /planner\s+✓ governed task 2 failed as planned: researcher: executor: step 2/)
  const replays = [
    ...out.matchAll(
      /executor\s+✓ ended task's credentials used again: refused (\d+) ms after EndTask returned/g,
    ),
  ]
  t.equal(replays.length, 2, "both ended tasks' credentials were refused on their next use")
  t.match(out, /tool-api\s+✗ refused task credentials from \/demo\/executor: .*\[ERR_\w+\]/)
  t.match(
    summaryOf(out),
    /✓ tool-api showed executor's whole chain \/user\/alice → \/demo\/planner → \/demo\/executor\n/,
  )
  t.match(
    summaryOf(out),
    /✓ a replay of executor's task credentials was refused once its task completed \(refused \d+ ms after EndTask\)/,
  )
  t.match(
    summaryOf(out),
    /✓ the failed task's credentials were refused on their next use \(refused \d+ ms after EndTask\)/,
  )

  // The summary table: every component, its ID, no failed request; the rogues got nothing.
  t.match(out, /component\s+SPIFFE ID\s+rotations\s+calls ok\/failed\s+let in\s+shut out\s+probes refused/)
  for (const name of ['executor', 'researcher', 'planner']) {
    t.match(out, new RegExp(`\\n${name}\\s+/demo/${name}\\s+[1-9]\\d*\\s+[1-9]\\d*/0\\s`))
  }
  t.match(out, /\nrogue-unregistered\s+none\s+0\s+-\s+0\s+0\s+2\/2\n/)
  t.match(out, /\nrogue-copycat\s+none\s+0\s+-\s+0\s+0\s+3\/3\n/)
  // A legend says what each number of the summary counts.
  const summary = summaryOf(out)
  for (const [column, meaning] of [
    ['SPIFFE ID', /the identity the agent issued, under spiffe:\/\/example\.org/],
    ['rotations', /times the agent pushed it a new X509-SVID/],
    ['calls ok/failed', /pipeline calls it made to the next component: succeeded \/ failed/],
    ['let in', /peers it let in as a server/],
    ['shut out', /peers it refused: TLS handshakes, mTLS IDs, JWT-SVIDs, task credentials/],
    ['probes refused', /deliberate wrong calls it made that were refused \/ that it made/],
  ] as const) {
    t.match(summary, new RegExp(`\\n  ${column}\\s+${meaning.source}`), `the legend explains ${column}`)
  }
  // Outcome lines do not repeat what they claim, and count only what they are about.
  t.match(summary, /✓ planner got its identity spiffe:\/\/example\.org\/demo\/planner\n/)
  t.match(
    summary,
    /✓ tool-api refused planner's JWT-SVID \(only executor's counts\) \([1-9]\d* refusal\(s\) of planner's token\)/,
  )

  // The policy scene: the operator sets the README's three example policies; executor's call of
  // the payments tool is held until `approval approve` (the real CLI) releases it, a second call
  // in the window is not held; a task token outside the task's scope drifts the task (`task
  // show`) and its earlier token is refused afterwards.
  t.match(out, /operator\s+sigil-server policy set --file policy\.cedar\n/)
  t.match(
    out,
    /Policies\s+: 4 \(allow-all, reports-maintenance-window, task-scope-high-risk, payments-needs-approval\)/,
  )
  t.match(
    out,
    /executor\s+· calls tool-api \/payments \(a high-risk tool\); the call waits while the agent holds it/,
  )
  const held = /demo\s+executor's payments call is held \(approval ([0-9a-f-]{36})\)/.exec(out)
  t.ok(held, 'the payments call is held')
  const id = held?.[1] ?? 'none'
  t.match(out, /operator\s+sigil-server approval list --status pending\n/)
  t.match(
    out,
    new RegExp(`Approval ID\\s+: ${id}\\n\\s+Status\\s+: pending\\n\\s+Principal\\s+: /demo/executor`),
  )
  t.match(out, /Resource\s+: Sigil::Tool::"payments"/)
  t.match(out, new RegExp(`operator\\s+sigil-server approval approve --id ${id} --for 10m\\n`))
  t.match(out, /Decided by\s+: uid=\d+ pid=\d+ exe=\//, 'decided_by: the admin caller')
  t.match(
    out,
    new RegExp(
      `tool-api\\s+✓ Authorize payments for /demo/executor — allow: approval required by policy ` +
        `"payments-needs-approval"; approved by uid=\\d+ pid=\\d+ exe=\\S+ \\(approval ${id}\\)`,
    ),
  )
  t.match(out, /executor\s+✓ payments call answered after \d+\.\d s — HTTP 200: payment of 120 EUR sent/)
  t.match(
    out,
    /executor\s+✓ second payments call, within the approval's window: answered in \d+ ms, no new hold — HTTP 200/,
  )
  t.match(
    out,
    /executor\s+✓ asked for a task token for \/demo\/payments, outside the task's scope: refused — .*denied by policy "task-scope-high-risk"; the task has drifted and was ended/,
  )
  t.match(
    out,
    /executor\s+✓ the drifted task's earlier token used again: refused \(\d+ ms after the drift\) — HTTP 40[13]/,
  )
  t.match(
    out,
    /operator\s+task [0-9a-f]{8}…: ended, outcome drifted — aud=\/demo\/payments: denied by policy "task-scope-high-risk"/,
  )
  for (const line of [
    /✓ the payments call was held, approved through the CLI, and went through \(decided by uid=\d+ pid=\d+/,
    /✓ a second payments call within --for 10m passed without a new hold/,
    /✓ executor's task drifted when it asked outside its scope \(task show: drifted\)/,
    /✓ the drifted task's earlier token was refused/,
  ])
    t.match(summaryOf(out), line)
  t.match(out, /DEMO PASSED: all \d+ expected outcomes happened/)

  const { pids, dir } = leftovers(out)
  t.equal(pids.length, 8, 'server, agent, four components and two rogues were started')
  t.same(pids.filter(alive), [], 'no process outlives the demo')
  t.ok(dir && !existsSync(dir), 'the work dir is removed')
})

t.test('stopping early cleans up: Ctrl-C exits 130, a dying component fails the demo', async (t) => {
  // Both at once, to keep the test short; each demo has its own server, agent and temp dir.
  const env = { DEMO_SECONDS: '60', DEMO_SVID_TTL: '30' }
  const [interrupted, crashed] = await Promise.all([
    runDemo(env, /started executor/, (_, pid) => process.kill(pid, 'SIGINT')),
    runDemo(env, /pipeline running for/, (stdout) => {
      const researcher = /started researcher \(pid (\d+)\)/.exec(stdout)?.[1]
      if (researcher) process.kill(Number(researcher), 'SIGKILL')
    }),
  ])

  t.equal(interrupted.code, 130, 'Ctrl-C: exit code 130', { output: interrupted.stdout })
  t.match(interrupted.stdout, /SIGINT: stopping early/)
  t.match(interrupted.stdout, /DEMO INTERRUPTED/)
  t.notMatch(interrupted.stdout, /DEMO PASSED/)

  t.equal(crashed.code, 1, 'a dead component: exit code 1', { output: crashed.stdout })
  t.match(crashed.stdout, /✗ researcher exited on its own/)
  t.match(crashed.stdout, /✗ researcher ran without failing \(exited on its own/)
  t.match(
    unwrap(crashed.stdout),
    /DEMO FAILED: \d+ expectation\(s\) not met: .*researcher ran without failing/,
  )

  for (const run of [interrupted, crashed]) {
    t.same(
      run.stdout.split('\n').filter((l) => [...l].length > 100),
      [],
      'every line fits 100 columns, also when stopped early',
    )
    const { pids, dir } = leftovers(run.stdout)
    t.ok(pids.length >= 2, 'components were started')
    t.same(pids.filter(alive), [], 'no process outlives the demo')
    t.ok(dir && !existsSync(dir), 'the work dir is removed')
  }
})
