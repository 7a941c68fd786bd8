// The Authorize handler with its seams filled in-process (a test CA's X509-SVID as the caller's
// credential, a compiled policy set, a fake approval holder): no policy set → deny; allow/deny
// with policy ids; a hold answered approved → allow, denied → deny, expired → PERMISSION_DENIED;
// no holder → UNAVAILABLE; a tool server with no identity → PERMISSION_DENIED.
import { status } from '@grpc/grpc-js'
import t from 'tap'
import {
  type ApprovalAnswer,
  type AuthorizeHandlerDeps,
  createAuthorizeHandlers,
} from '../../../agent/authz/authorize-handlers.js'
import { TrustBundle } from '../../../certs/bundle/trust-bundle.js'
import { CompiledPolicySet } from '../../../common/policy/policy-engine.js'
import type { AuthorizeResponse } from '../../../proto/generated/sigil/authz/v1/AuthorizeResponse.js'
import { createTestCa } from '../../helpers/testca.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { RecordingLogger } from '../../server/ca/ca-test-kit.js'

const ca = await createTestCa()
const bundle = TrustBundle.create({ trustDomain: ca.trustDomain, x509Authorities: [ca.rootDer] })
const worker = await ca.mintSvid('/worker')
const POLICY = CompiledPolicySet.compile(
  `@id("allow-worker")
permit (principal == Sigil::Workload::"spiffe://example.org/worker", action == Sigil::Action::"CallTool", resource);
@id("hold-payments")
@approval("required")
permit (principal, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"payments");`,
  1,
)

/** The handler's seams filled in (a tool with an identity, the test policy), with `over` on top. */
function depsWith(over: Partial<AuthorizeHandlerDeps> = {}): AuthorizeHandlerDeps {
  return {
    callers: { identify: async () => ({ pid: 1, startTime: 1, selectors: [] }) as never },
    identities: {
      entriesFor: () => [{ spiffeId: 'spiffe://example.org/tool' }],
      bundlesFor: () => ({ bundle, federatedBundles: new Map() }),
    },
    policies: { current: () => POLICY },
    logger: new RecordingLogger(),
    clock: () => new Date(),
    ...over,
  }
}

/** An Authorize call by the worker's X509-SVID for `tool`; `cancel()` fires its 'cancelled' listeners. */
function fakeCall(tool: string) {
  const listeners: (() => void)[] = []
  const call = {
    getPeer: () => 'conn-1',
    request: {
      credentials: { x509_svid_chain: worker.chainDer, jwt_svid: '', txn_token: '', audience: '' },
      action: '',
      resource: { type: 'Tool', id: tool },
      context_json: '',
    },
    once: (_event: string, fn: () => void) => {
      listeners.push(fn)
      return call
    },
    cancel: () => {
      for (const fn of listeners) fn()
    },
  }
  return call
}

function handler(over: Partial<AuthorizeHandlerDeps> = {}) {
  const h = createAuthorizeHandlers(depsWith(over))
  return (tool: string) =>
    new Promise<{ res?: AuthorizeResponse; code?: number; details?: string }>((resolve) => {
      h.Authorize(
        fakeCall(tool) as never,
        ((err: { code: number; details: string } | null, res?: AuthorizeResponse) =>
          resolve(err ? { code: err.code, details: err.details } : { res })) as never,
      )
    })
}

const holder = (answer: Partial<ApprovalAnswer>) => () => ({
  holdForApproval: async () => ({
    approval_id: 'ap-1',
    status: 'approved',
    reason: '',
    valid_until: 0,
    decided_by: 'uid 0',
    ...answer,
  }),
})

t.test('no policy set: deny with the reason', async (t) => {
  const r = await handler({ policies: { current: () => undefined } })('search')
  t.match(r.res, { decision: 'deny', policy_ids: [], spiffe_id: 'spiffe://example.org/worker' })
  t.match(r.res?.reasons?.[0], /no policy set/)
})

t.test('allow with the deciding policy id', async (t) => {
  const r = await handler()('search')
  t.match(r.res, { decision: 'allow', policy_ids: ['allow-worker'] })
})

t.test(
  'a hold: approved → allow, denied → deny, expired → PERMISSION_DENIED, no holder → UNAVAILABLE',
  async (t) => {
    const approved = await handler({ approvals: holder({}) })('payments')
    t.match(approved.res, { decision: 'allow', policy_ids: ['hold-payments'], approval_id: 'ap-1' })
    t.match(approved.res?.reasons?.[1], /approved by uid 0 \(approval ap-1\)/)
    const denied = await handler({ approvals: holder({ status: 'denied', reason: 'no' }) })('payments')
    t.match(denied.res, { decision: 'deny', approval_id: 'ap-1' })
    t.match(denied.res?.reasons?.[1], /denied by uid 0: no/)
    const expired = await handler({ approvals: holder({ status: 'expired' }) })('payments')
    t.equal(expired.code, status.PERMISSION_DENIED)
    t.match(expired.details, /approval ap-1 expired/)
    const none = await handler()('payments')
    t.equal(none.code, status.UNAVAILABLE)
  },
)

t.test('a tool server with no identity is refused', async (t) => {
  const r = await handler({
    identities: { entriesFor: () => [], bundlesFor: () => ({ bundle, federatedBundles: new Map() }) },
  })('search')
  t.equal(r.code, status.PERMISSION_DENIED)
})

// The wait is cancelled when the tool server goes away (its hold then expires on the server);
// a 'cancelled' event after the answer (grpc-js reports one for finished calls too) aborts nothing.
t.test('a held caller that goes away aborts the wait; a cancel after the answer is harmless', async (t) => {
  const signals: AbortSignal[] = []
  let release: (() => void) | undefined
  const h = createAuthorizeHandlers(
    depsWith({
      approvals: () => ({
        holdForApproval: (_req: unknown, signal?: AbortSignal) => {
          if (signal) signals.push(signal)
          return new Promise<ApprovalAnswer>((resolve) => {
            release = () =>
              resolve({
                approval_id: 'ap-2',
                status: 'approved',
                reason: '',
                valid_until: 0,
                decided_by: 'uid 0',
              })
          })
        },
      }),
    }),
  )
  const call = (tool: string) => {
    const c = fakeCall(tool)
    let answered = false
    h.Authorize(
      c as never,
      (() => {
        answered = true
      }) as never,
    )
    return { cancel: c.cancel, answered: () => answered }
  }
  const held = call('payments')
  await waitUntil('the call to be held', () => signals.length === 1, { timeoutMs: 5000 })
  t.notOk(signals[0]?.aborted, 'waiting')
  held.cancel()
  t.ok(signals[0]?.aborted, 'the tool server went away: the wait is aborted')

  const answeredCall = call('payments')
  await waitUntil('the second call to be held', () => signals.length === 2, { timeoutMs: 5000 })
  release?.()
  await waitUntil('the second call to be answered', () => answeredCall.answered(), { timeoutMs: 5000 })
  answeredCall.cancel()
  t.notOk(signals[1]?.aborted, 'a cancel after the answer aborts nothing')
})
