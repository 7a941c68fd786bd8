// The demo's timeline (scripts/demo/timeline.ts) fits 100 columns whatever a component says:
// long reasons and paths wrap under the text column, IDs of the trust domain are shown by
// path except where an identity is issued, and the numbers are explained before they appear.
import t from 'tap'
import type { DemoEvent } from '../../../scripts/demo/demo-event.js'
import { Timeline } from '../../../scripts/demo/timeline.js'
import { columns, DEMO_COLUMNS, hangingLines, wrapText } from '../../../scripts/demo/wrap-text.js'

const T0 = Date.now()
const ID = (name: string) => `spiffe://example.org/demo/${name}`

function render(events: readonly DemoEvent[], verbose = false): string[] {
  const lines: string[] = []
  const timeline = new Timeline(T0, verbose, (l) => lines.push(l), 'example.org')
  timeline.explain()
  for (const e of events) timeline.event(e)
  timeline.say('demo', `started planner (pid 1): /usr/bin/node /${'very-long-folder/'.repeat(8)}planner.js`)
  return lines
}

const hops = (...serials: string[]) =>
  ['tool-api', 'executor', 'researcher', 'planner'].map((component, i) => ({
    component,
    serial: serials[i] ?? '0',
  }))

const at = (s: number) => T0 + s * 1000
const events: DemoEvent[] = [
  {
    t: at(1),
    component: 'planner',
    kind: 'identity',
    spiffeId: ID('planner'),
    serial: 'ab'.repeat(16),
    expiresAt: '2026-12-04T16:00:31.000Z',
  },
  {
    t: at(2),
    component: 'planner',
    kind: 'rotation',
    spiffeId: ID('planner'),
    serial: 'cd'.repeat(16),
    previousSerial: 'ab'.repeat(16),
    expiresAt: '2026-12-04T16:01:01.000Z',
  },
  {
    t: at(3),
    component: 'tool-api',
    kind: 'listening',
    port: 65535,
    accepts: `any example.org workload over mTLS, then only executor's JWT-SVID for audience "tool-api"`,
  },
  {
    t: at(4),
    component: 'executor',
    kind: 'refused',
    layer: 'mtls',
    peer: ID('planner'),
    code: 'ERR_NOT_AUTHORIZED',
    reason: `peer "${ID('planner')}" is not authorized: expected "${ID('researcher')}"`,
  },
  {
    t: at(5),
    component: 'rogue-unregistered',
    kind: 'attempt',
    name: 'unregistered script asks for an X509-SVID',
    refused: true,
    reason: `Workload API FetchX509SVID failed: ${'no identity issued '.repeat(6)}(PERMISSION_DENIED) [ERR_NOT_AUTHORIZED]`,
  },
  {
    t: at(6),
    component: 'planner',
    kind: 'request',
    ok: true,
    target: 'task 1',
    detail: 'ok',
    hops: hops('11111111', '22222222', '33333333', '44444444'),
  },
  {
    t: at(7),
    component: 'planner',
    kind: 'request',
    ok: true,
    target: 'task 2',
    detail: 'ok',
    hops: hops('11111111', '22222222', '33333333', '44444444'),
  },
  {
    t: at(8),
    component: 'planner',
    kind: 'request',
    ok: true,
    target: 'task 3',
    detail: 'ok',
    hops: hops('11111111', '99999999', '33333333', '44444444'),
  },
  { t: at(9), component: 'tool-api', kind: 'failure', reason: 'x'.repeat(250) },
]

t.test('every line fits 100 columns, also for long reasons and paths', async (t) => {
  const lines = render(events)
  for (const line of lines) t.ok(columns(line) <= DEMO_COLUMNS, `fits: ${line}`)
  t.ok(
    lines.some((l) => /^ {28}\S/.test(l)),
    'long texts continue under the text column',
  )
})

t.test('numbers and abbreviations are explained first', async (t) => {
  const text = render(events).join('\n')
  t.match(text, /^ {2}\+\d\.\ds {2}demo {15}How to read: \+12\.3s is the time since the demo started/)
  t.match(text, /\/demo\/planner is the SPIFFE ID spiffe:\/\/example\.org\/demo\/planner/)
  t.match(text, /\[1a2b3c4d\] is the start of an X509-SVID serial number/)
  t.match(text, /are UTC/)
})

t.test('identity lines name the ID once, in full; other lines by path', async (t) => {
  const lines = render(events)
  const identity = lines.find((l) => l.includes('got identity')) ?? ''
  t.match(identity, /planner {12}got identity spiffe:\/\/example\.org\/demo\/planner \[abababab\]$/)
  t.equal(identity.split('demo/planner').length, 2, 'the ID appears once')
  t.ok(lines.some((l) => /↻ rotated: \[abababab\] → \[cdcdcdcd\], expires 16:01:01$/.test(l)))
  const refused = lines.join('\n').replace(/\n {28}/g, ' ')
  t.match(refused, /✗ refused mTLS connection from \/demo\/planner: peer "\/demo\/planner" is not authorized/)
  const others = lines.filter((l) => !l.includes('got identity') && !l.includes('is the SPIFFE ID'))
  t.notOk(
    others.some((l) => l.includes('spiffe://example.org/')),
    'elsewhere, IDs of the trust domain are paths',
  )
})

t.test('task lines: the serial of each hop, caller first; * marks a new one', async (t) => {
  const lines = render(events).filter((l) => l.includes('✓ task'))
  t.same(
    lines.map((l) => l.slice(l.indexOf('✓'))),
    [
      '✓ task 1: [44444444] → [33333333] → [22222222] → [11111111]',
      '✓ task 3: [44444444] → [33333333] → [99999999]* → [11111111]',
    ],
    'an unchanged chain (task 2) is not shown',
  )
})

t.test('wrapText breaks at spaces, cuts words longer than the width, keeps paragraphs', async (t) => {
  t.same(wrapText('a bb ccc', 4), ['a bb', 'ccc'])
  t.same(wrapText('abcdefghij', 4), ['abcd', 'efgh', 'ij'])
  t.same(wrapText('one\ntwo three', 5), ['one', 'two', 'three'])
  t.same(wrapText('', 5), [''])
  const text = 'the quick brown fox jumps over the lazy dog '.repeat(5).trim()
  t.equal(wrapText(text, 17).join(' '), text, 'joining the pieces with a space gives the text back')
  t.throws(() => wrapText('x', 0), TypeError)
  t.same(hangingLines('  ✓ ', 'x'.repeat(100)), [`  ✓ ${'x'.repeat(96)}`, `    ${'x'.repeat(4)}`])
})

t.test('governed tasks: the chain once per task, principal first; replays with their timing', async (t) => {
  const task = '796197a2-1111-4222-8333-444455556666'
  const alice = 'spiffe://example.org/user/alice'
  const chain = (s: number): DemoEvent => ({
    t: at(s),
    component: 'tool-api',
    kind: 'chain',
    run: 1,
    caller: ID('executor'),
    subject: alice,
    actors: [ID('executor'), ID('planner')],
    taskId: task,
  })
  const governed: DemoEvent[] = [
    {
      t: at(1),
      component: 'executor',
      kind: 'task',
      action: 'begun',
      run: 1,
      taskId: task,
      detail: `"run 1: act on the findings", sub-task of {1dd5607e}; may call /demo/tool-api until 16:51:44`,
    },
    chain(2),
    chain(3),
    {
      t: at(4),
      component: 'executor',
      kind: 'task',
      action: 'ended',
      run: 1,
      taskId: task,
      detail: 'completed',
    },
    {
      t: at(5),
      component: 'executor',
      kind: 'replay',
      run: 1,
      refused: true,
      afterMs: 12,
      callMs: 9,
      tries: 2,
      reason: `Workload API ValidateJWTSVID failed: ${'the credential is revoked '.repeat(5)}`,
    },
    {
      t: at(6),
      component: 'executor',
      kind: 'replay',
      run: 2,
      refused: false,
      afterMs: 5003,
      callMs: 0,
      tries: 140,
      reason: 'HTTP 200: accepted',
    },
    {
      t: at(7),
      component: 'planner',
      kind: 'governed',
      run: 2,
      ok: true,
      outcome: 'failed',
      detail: 'x'.repeat(150),
    },
  ]
  const lines: string[] = []
  const timeline = new Timeline(T0, false, (l) => lines.push(l), 'example.org')
  for (const e of governed) timeline.event(e)
  for (const line of lines) t.ok(columns(line) <= DEMO_COLUMNS, `fits: ${line}`)
  const text = lines.join('\n').replace(/\n {28}/g, ' ')
  t.match(
    text,
    /executor {11}▶ began task \{796197a2\}: "run 1: act on the findings", sub-task of \{1dd5607e\}/,
  )
  t.equal(text.match(/✓ task request, chain/g)?.length, 1, 'the same task shows its chain once')
  t.match(
    text,
    /tool-api {11}✓ task request, chain \/user\/alice → \/demo\/planner → \/demo\/executor \(task \{796197a2\}\)/,
  )
  t.match(text, /■ ended task \{796197a2\}: completed/)
  t.match(
    text,
    /✓ ended task's credentials used again: refused 12 ms after EndTask returned \(use 2, itself 9 ms\) — /,
  )
  t.match(text, /✗ ended task's credentials NOT REFUSED 5003 ms after EndTask \(140 uses\): HTTP 200/)
  t.match(text, /planner {12}✓ governed task 2 failed as planned: x+/)
})
