/**
 * What the demo counts and what it expects: tallies of every component's events, the final
 * summary table, and the list of expected outcomes, each passed or failed with the evidence.
 * The demo exits 0 only when every expectation passed.
 */
import type { DemoEvent } from './demo-event.js'

/** Everything counted for one component. */
interface Tally {
  spiffeId: string
  serials: string[]
  rotations: number
  firstIdentityAt: number | undefined
  requestsOk: number
  requestsFailed: number
  accepted: number
  refused: DemoEvent[]
  attempts: { name: string; refused: boolean; reason: string }[]
  failures: string[]
}

/** One expected outcome and whether it happened. */
export interface Check {
  /** True when it happened, or when it was not due (`skipped`). */
  readonly ok: boolean
  /** Not due in this run (e.g. a run shorter than the SVID lifetime owes no rotation). */
  readonly skipped?: boolean
  readonly what: string
  /** What was seen, when it adds to `what` (empty when it would only repeat it). */
  readonly evidence: string
}

/** What {@link Scoreboard.checks} compares against. */
export interface Expectations {
  /** Registered component → the SPIFFE ID it must get. */
  readonly identities: ReadonlyMap<string, string>
  /** Deliberate attempts each component must make (all must be refused). */
  readonly attempts: ReadonlyMap<string, number>
  readonly x509TtlMs: number
  readonly endedAt: number
  /**
   * The governed tasks: the principal they work for, and the run that must complete and the
   * one that must fail midway (both end with their credentials refused on the next use).
   */
  readonly governed: { readonly principal: string; readonly completes: number; readonly fails: number }
}

/** The widest line {@link Scoreboard.table} writes. */
export const SUMMARY_WIDTH = 100

/** The summary columns and what each counts (the legend printed under the table). */
const SUMMARY_COLUMNS = [
  { head: 'component', meaning: '' },
  { head: 'SPIFFE ID', meaning: 'the identity the agent issued, under spiffe://<td> (none: refused one)' },
  { head: 'rotations', meaning: 'times the agent pushed it a new X509-SVID (new serial), no restart' },
  { head: 'calls ok/failed', meaning: 'pipeline calls it made to the next component: succeeded / failed' },
  { head: 'let in', meaning: 'peers it let in as a server: mTLS connections + JWT-SVIDs + task requests' },
  { head: 'shut out', meaning: 'peers it refused: TLS handshakes, mTLS IDs, JWT-SVIDs, task credentials' },
  { head: 'probes refused', meaning: 'deliberate wrong calls it made that were refused / that it made' },
] as const

/** A component must have lived this share of the X509-SVID lifetime to owe a rotation. */
const ROTATION_DUE_SHARE = 0.75

type EventOf<K extends DemoEvent['kind']> = DemoEvent & { kind: K }

/** Tallies events per component. */
export class Scoreboard {
  readonly #tallies = new Map<string, Tally>()
  /** The governed tasks' events, in order. */
  readonly #chains: EventOf<'chain'>[] = []
  readonly #replays: EventOf<'replay'>[] = []
  readonly #governed: EventOf<'governed'>[] = []

  #of(component: string): Tally {
    let t = this.#tallies.get(component)
    if (t === undefined) {
      t = {
        spiffeId: '',
        serials: [],
        rotations: 0,
        firstIdentityAt: undefined,
        requestsOk: 0,
        requestsFailed: 0,
        accepted: 0,
        refused: [],
        attempts: [],
        failures: [],
      }
      this.#tallies.set(component, t)
    }
    return t
  }

  /** Counts one event. */
  record(e: DemoEvent): void {
    const t = this.#of(e.component)
    switch (e.kind) {
      case 'identity':
        t.spiffeId = e.spiffeId
        t.firstIdentityAt ??= e.t
        if (!t.serials.includes(e.serial)) t.serials.push(e.serial)
        break
      case 'rotation':
        t.rotations++
        if (!t.serials.includes(e.serial)) t.serials.push(e.serial)
        break
      case 'request':
        if (e.ok) t.requestsOk++
        else t.requestsFailed++
        break
      case 'accepted':
        t.accepted++
        break
      case 'refused':
        t.refused.push(e)
        break
      case 'attempt':
        t.attempts.push({ name: e.name, refused: e.refused, reason: e.reason })
        break
      case 'failure':
        t.failures.push(e.reason)
        break
      case 'chain':
        t.accepted++
        this.#chains.push(e)
        break
      case 'replay':
        this.#replays.push(e)
        break
      case 'governed':
        this.#governed.push(e)
        break
      default:
        break
    }
  }

  /** Notes that a component stopped on its own or failed to start. */
  fail(component: string, why: string): void {
    this.#of(component).failures.push(why)
  }

  /**
   * The summary table, one row per component seen, then a legend that says what each number
   * counts; at most {@link SUMMARY_WIDTH} columns. IDs are shown by path under `trustDomain`.
   */
  table(order: readonly string[], trustDomain: string): string {
    const rows = order.map((name) => {
      const t = this.#of(name)
      const prefix = `spiffe://${trustDomain}`
      return [
        name,
        t.spiffeId.startsWith(prefix) ? t.spiffeId.slice(prefix.length) : t.spiffeId || 'none',
        String(t.rotations),
        t.requestsOk + t.requestsFailed === 0 ? '-' : `${t.requestsOk}/${t.requestsFailed}`,
        String(t.accepted),
        String(t.refused.length),
        t.attempts.length === 0 ? '-' : `${t.attempts.filter((a) => a.refused).length}/${t.attempts.length}`,
      ]
    })
    const widths = SUMMARY_COLUMNS.map((c, i) =>
      Math.max(c.head.length, ...rows.map((r) => (r[i] ?? '').length)),
    )
    const line = (cells: readonly string[]): string =>
      cells
        .map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd()
    const legendWidth = Math.max(...SUMMARY_COLUMNS.map((c) => c.head.length))
    return [
      line(SUMMARY_COLUMNS.map((c) => c.head)),
      line(widths.map((w) => '-'.repeat(w))),
      ...rows.map(line),
      '',
      ...SUMMARY_COLUMNS.slice(1).map(
        (c) => `  ${c.head.padEnd(legendWidth)}  ${c.meaning.replace('<td>', trustDomain)}`,
      ),
    ].join('\n')
  }

  /** Every expected outcome, passed or failed. */
  checks(x: Expectations): Check[] {
    const out: Check[] = []
    const add = (ok: boolean, what: string, evidence: string, skipped = false): void => {
      out.push({ ok, what, evidence, skipped })
    }
    for (const [name, id] of x.identities) {
      const t = this.#of(name)
      // The evidence repeats nothing: only a wrong or missing identity is worth showing.
      add(
        t.spiffeId === id,
        `${name} got its identity ${id}`,
        t.spiffeId === id ? '' : `got ${t.spiffeId || 'none'}`,
      )
      const lived = t.firstIdentityAt === undefined ? 0 : x.endedAt - t.firstIdentityAt
      const due = lived >= ROTATION_DUE_SHARE * x.x509TtlMs
      const rotated = `${name} rotated its X509-SVID at least once`
      if (due) add(t.rotations >= 1, rotated, `${t.rotations} rotation(s)`)
      else
        add(
          true,
          rotated,
          `not due: ran ${Math.round(lived / 1000)}s of a ${x.x509TtlMs / 1000}s lifetime`,
          true,
        )
      if (t.requestsOk + t.requestsFailed > 0 || name === 'planner') {
        add(
          t.requestsOk > 0 && t.requestsFailed === 0,
          `every pipeline request made by ${name} succeeded`,
          `${t.requestsOk} ok, ${t.requestsFailed} failed`,
        )
      }
    }
    for (const [name, wanted] of x.attempts) {
      const made = this.#of(name).attempts
      const refused = made.filter((a) => a.refused).length
      add(
        made.length === wanted && refused === wanted,
        `all ${wanted} attempt(s) by ${name} were refused`,
        `${refused} of ${made.length} refused`,
      )
    }
    const refusals = (name: string, pick: (e: DemoEvent & { kind: 'refused' }) => boolean): number =>
      this.#of(name).refused.filter((e) => e.kind === 'refused' && pick(e)).length
    const planner = x.identities.get('planner') ?? ''
    add(
      refusals('executor', (e) => e.layer === 'mtls' && e.peer === planner) > 0,
      'executor refused planner (only researcher may call it)',
      `${refusals('executor', (e) => e.layer === 'mtls')} mTLS refusal(s)`,
    )
    // Only refusals of planner's own token count here; the wrong-audience one is checked next.
    const plannerJwt = refusals(
      'tool-api',
      (e) => e.layer === 'jwt' && e.code === 'ERR_NOT_AUTHORIZED' && e.peer === planner,
    )
    add(
      plannerJwt > 0,
      "tool-api refused planner's JWT-SVID (only executor's counts)",
      `${plannerJwt} refusal(s) of planner's token`,
    )
    add(
      refusals('tool-api', (e) => e.layer === 'jwt' && e.code === 'ERR_JWT_AUDIENCE_MISMATCH') > 0,
      'tool-api refused a JWT-SVID for another audience',
      `${refusals('tool-api', (e) => e.code === 'ERR_JWT_AUDIENCE_MISMATCH')} audience refusal(s)`,
    )
    add(
      refusals('researcher', (e) => e.layer === 'tls') >= 2,
      "researcher's TLS handshake refused the copycat (no certificate; a made-up CA)",
      `${refusals('researcher', (e) => e.layer === 'tls')} refusal(s)`,
    )
    out.push(...this.#governedChecks(x))
    for (const [name, t] of this.#tallies) {
      if (t.failures.length > 0) add(false, `${name} ran without failing`, t.failures.join('; '))
    }
    return out
  }

  /** The governed pipeline: the chain tool-api saw, each task's outcome, and the replays. */
  #governedChecks(x: Expectations): Check[] {
    const { principal, completes, fails } = x.governed
    const id = (name: string): string => x.identities.get(name) ?? name
    const short = (s: string): string => s.replace(/^spiffe:\/\/[^/]+/, '')
    const want = [principal, id('planner'), id('executor')]
    const wanted = want.map(short).join(' → ')
    const chains = this.#chains.filter((e) => e.run === completes && e.caller === id('executor'))
    const seen = chains.map((e) => [e.subject, ...[...e.actors].reverse()])
    const governed = (run: number) => this.#governed.find((e) => e.run === run)
    const replay = (run: number) => this.#replays.find((e) => e.run === run)
    const done = governed(completes)
    const failed = governed(fails)
    const replayed = replay(completes)
    const retried = replay(fails)
    const after = (e: EventOf<'replay'> | undefined): string =>
      e === undefined
        ? 'never used again'
        : `${e.refused ? 'refused' : 'NOT refused'} ${e.afterMs} ms after EndTask`
    return [
      {
        ok: seen.some((c) => c.join(' ') === want.join(' ')),
        what: `tool-api showed executor's whole chain ${wanted}`,
        evidence: seen.length === 0 ? 'no task request from executor' : '',
      },
      {
        ok: done?.ok === true && done.outcome === 'completed',
        what: `governed task ${completes} completed`,
        evidence: done === undefined ? 'it never finished' : done.ok ? '' : done.detail,
      },
      {
        ok: replayed?.refused === true,
        what: "a replay of executor's task credentials was refused once its task completed",
        evidence: after(replayed),
      },
      {
        ok: failed?.ok === true && failed.outcome === 'failed',
        what: `governed task ${fails} failed midway and ended as failed`,
        evidence: failed === undefined ? 'it never finished' : failed.ok ? '' : failed.detail,
      },
      {
        ok: retried?.refused === true,
        what: "the failed task's credentials were refused on their next use",
        evidence: after(retried),
      },
    ]
  }
}
