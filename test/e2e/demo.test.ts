// `npm run demo` (scripts/demo/run-demo.ts): the multi-agent pipeline runs for real — server,
// agent, four component processes, two rogues — and exits 0 only when every expected outcome
// happened; the timeline shows identities, rotations and every refusal with its reason; no
// child process or temp dir outlives it, also when it is interrupted with Ctrl-C (SIGINT).
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
  const out = run.stdout
  for (const name of COMPONENTS) {
    t.match(
      out,
      new RegExp(`${name}\\s+got identity spiffe://example\\.org/demo/${name}\\s+serial [0-9a-f]+`),
    )
    t.match(out, new RegExp(`${name}\\s+↻ rotated: serial [0-9a-f]+ → [0-9a-f]+`), `${name} rotated`)
    t.match(out, new RegExp(`✓ ${name} rotated its X509-SVID at least once`))
  }
  t.match(
    out,
    /planner\s+✓ task 1: planner\[[0-9a-f]+\] → researcher\[[0-9a-f]+\] → executor\[[0-9a-f]+\] → tool-api\[[0-9a-f]+\]/,
  )
  t.match(out, /← new serial in the chain/, 'a rotation shows up in the pipeline')
  t.notMatch(out, /FAILED|NOT REFUSED|FAILURE/)

  // Wrong peers, refused on the side that decides, with the reason.
  t.match(
    out,
    /executor\s+✗ refused mTLS connection from spiffe:\/\/example\.org\/demo\/planner: .*expected "spiffe:\/\/example\.org\/demo\/researcher" \[ERR_NOT_AUTHORIZED\]/,
  )
  t.match(
    out,
    /tool-api\s+✗ refused JWT-SVID from spiffe:\/\/example\.org\/demo\/planner: .*\[ERR_NOT_AUTHORIZED\]/,
  )
  t.match(
    out,
    /tool-api\s+✗ refused JWT-SVID from spiffe:\/\/example\.org\/demo\/executor: .*\[ERR_JWT_AUDIENCE_MISMATCH\]/,
  )
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
    /rogue-copycat\s+✓ refused as expected: present the copied spiffe:\/\/example\.org\/demo\/planner certificate with its own key/,
  )
  t.match(out, /researcher\s+✗ refused TLS handshake: peer did not return a certificate/)
  t.match(
    out,
    /researcher\s+✗ refused TLS handshake: the client certificate does not chain to a CA of the trust bundle/,
  )

  // The summary table: every component, its ID, no failed request; the rogues got nothing.
  t.match(out, /component\s+SPIFFE ID\s+rotations\s+calls ok\/failed\s+let in\s+shut out\s+probes refused/)
  for (const name of ['executor', 'researcher', 'planner']) {
    t.match(out, new RegExp(`\\n${name}\\s+/demo/${name}\\s+[1-9]\\d*\\s+[1-9]\\d*/0\\s`))
  }
  t.match(out, /\nrogue-unregistered\s+none\s+0\s+-\s+0\s+0\s+2\/2\n/)
  t.match(out, /\nrogue-copycat\s+none\s+0\s+-\s+0\s+0\s+3\/3\n/)
  // Everything after the timeline fits 100 columns, and a legend says what each number counts.
  const summary = out.slice(out.indexOf('\nSummary\n'))
  const widest = Math.max(...summary.split('\n').map((l) => [...l].length))
  t.ok(widest <= 100, `the summary and the outcomes fit 100 columns (widest: ${widest})`)
  for (const [column, meaning] of [
    ['SPIFFE ID', /the identity the agent issued, under spiffe:\/\/example\.org/],
    ['rotations', /times the agent pushed it a new X509-SVID/],
    ['calls ok/failed', /pipeline calls it made to the next component: succeeded \/ failed/],
    ['let in', /peers it let in as a server/],
    ['shut out', /peers it refused as a server/],
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
  t.match(crashed.stdout, /DEMO FAILED: \d+ expectation\(s\) not met: .*researcher ran without failing/)

  for (const run of [interrupted, crashed]) {
    const { pids, dir } = leftovers(run.stdout)
    t.ok(pids.length >= 2, 'components were started')
    t.same(pids.filter(alive), [], 'no process outlives the demo')
    t.ok(dir && !existsSync(dir), 'the work dir is removed')
  }
})
