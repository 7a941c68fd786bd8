// Conformance: attested agents (upsert, renew, touch, list, ban keeps the row, evict removes it),
// and the renewal grace (the previous serial kept with a renewal until the new one is used).
import type { Test } from 'tap'
import type { AttestedAgentInput } from '../../../../server/datastore/datastore.js'
import { AGENT_A, AGENT_B, after, type MakeStore, openStore, sel, TD } from './fixtures.js'

const T0 = new Date('2030-01-01T00:00:00.000Z')

function agent(spiffeId: string, over: Partial<AttestedAgentInput> = {}): AttestedAgentInput {
  return {
    spiffeId,
    attestationType: 'join_token',
    serialNumber: '0a1b2c',
    expiresAt: after(T0, 3600),
    selectors: sel('join_token:token:hash'),
    ...over,
  }
}

export function agentTests(t: Test, makeStore: MakeStore): void {
  t.test('createOrUpdateAttestedAgent inserts, then re-attests keeping createdAt', async (t) => {
    const ds = await openStore(t, makeStore)
    const a = await ds.createOrUpdateAttestedAgent(
      agent(AGENT_A, { selectors: sel('x509pop:subject:cn:a', 'x509pop:ca:fp:1') }),
      T0,
    )
    t.same(a, {
      spiffeId: AGENT_A,
      attestationType: 'join_token',
      serialNumber: '0a1b2c',
      expiresAt: after(T0, 3600),
      previousSerialNumber: '',
      banned: false,
      lastSeen: T0,
      selectors: sel('x509pop:ca:fp:1', 'x509pop:subject:cn:a'),
      createdAt: T0,
    })
    t.same(await ds.getAttestedAgent(AGENT_A), a)
    t.equal(await ds.getAttestedAgent(AGENT_B), undefined)

    const t1 = after(T0, 60)
    const b = await ds.createOrUpdateAttestedAgent(
      agent(AGENT_A, {
        attestationType: 'x509pop',
        serialNumber: 'ff',
        expiresAt: after(t1, 3600),
        selectors: [],
      }),
      t1,
    )
    t.equal(b.serialNumber, 'ff')
    t.equal(b.attestationType, 'x509pop')
    t.same(b.expiresAt, after(t1, 3600))
    t.same(b.selectors, [], 'selectors replaced')
    t.same(b.lastSeen, t1)
    t.same(b.createdAt, T0, 'createdAt kept')
    t.same(await ds.getAttestedAgent(AGENT_A), b)
    await t.rejects(
      ds.createOrUpdateAttestedAgent(agent(AGENT_A, { attestationType: 'tpm' as 'x509pop' }), t1),
      TypeError,
    )
  })

  t.test('updateAgentSvid and touchAgent', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.createOrUpdateAttestedAgent(agent(AGENT_A), T0)
    const renewed = await ds.updateAgentSvid(AGENT_A, 'beef', after(T0, 7200))
    t.equal(renewed.serialNumber, 'beef')
    t.same(renewed.expiresAt, after(T0, 7200))
    t.same(await ds.getAttestedAgent(AGENT_A), renewed)
    await ds.touchAgent(AGENT_A, after(T0, 10))
    t.same((await ds.getAttestedAgent(AGENT_A))!.lastSeen, after(T0, 10))
    await t.rejects(ds.updateAgentSvid(AGENT_B, 'beef', T0), { code: 'ERR_NOT_FOUND' })
    await t.rejects(ds.touchAgent(AGENT_B, T0), { code: 'ERR_NOT_FOUND' })
  })

  t.test('the renewal grace: the replaced serial is kept until the new one is used', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.createOrUpdateAttestedAgent(agent(AGENT_A), T0)
    t.equal((await ds.getAttestedAgent(AGENT_A))?.previousSerialNumber, '', 'none after attestation')
    t.equal((await ds.getAttestedAgent(AGENT_A))?.previousExpiresAt, undefined)

    // renewed with the current SVID: it becomes the previous one
    const r1 = await ds.updateAgentSvid(AGENT_A, 'b1', after(T0, 7200), '0a1b2c')
    t.equal(r1.serialNumber, 'b1')
    t.equal(r1.previousSerialNumber, '0a1b2c')
    t.same(r1.previousExpiresAt, after(T0, 3600))
    t.same(await ds.getAttestedAgent(AGENT_A), r1)

    // renewed again with the previous SVID (the answer was lost): the previous stays
    const r2 = await ds.updateAgentSvid(AGENT_A, 'b2', after(T0, 7300), '0a1b2c')
    t.equal(r2.serialNumber, 'b2')
    t.equal(r2.previousSerialNumber, '0a1b2c', 'the SVID the agent holds stays its way back')
    t.same(r2.previousExpiresAt, after(T0, 3600))

    // the new one used: the grace ends, but only while it is still the current one
    await ds.forgetPreviousAgentSvid(AGENT_A, 'b1')
    t.equal((await ds.getAttestedAgent(AGENT_A))?.previousSerialNumber, '0a1b2c', 'stale serial: untouched')
    await ds.forgetPreviousAgentSvid(AGENT_A, 'b2')
    const used = await ds.getAttestedAgent(AGENT_A)
    t.equal(used?.previousSerialNumber, '')
    t.equal(used?.previousExpiresAt, undefined)
    await ds.forgetPreviousAgentSvid(AGENT_A, 'b2')
    await t.rejects(ds.forgetPreviousAgentSvid(AGENT_B, 'b2'), { code: 'ERR_NOT_FOUND' })

    // two renewals in a row, each with the current SVID: only the last replaced one is kept
    await ds.updateAgentSvid(AGENT_A, 'c1', after(T0, 7400), 'b2')
    const c2 = await ds.updateAgentSvid(AGENT_A, 'c2', after(T0, 7500), 'c1')
    t.equal(c2.previousSerialNumber, 'c1')
    t.same(c2.previousExpiresAt, after(T0, 7400))
    // renewed presenting neither the current nor the previous serial (or none): no previous
    t.equal((await ds.updateAgentSvid(AGENT_A, 'c3', after(T0, 7600), 'b2')).previousSerialNumber, '')
    await ds.updateAgentSvid(AGENT_A, 'c4', after(T0, 7700), 'c3')
    const c5 = await ds.updateAgentSvid(AGENT_A, 'c5', after(T0, 7800))
    t.equal(c5.previousSerialNumber, '')
    t.equal(c5.previousExpiresAt, undefined)

    // re-attestation and ban end the grace
    await ds.updateAgentSvid(AGENT_A, 'd1', after(T0, 7900), 'c5')
    const reattested = await ds.createOrUpdateAttestedAgent(
      agent(AGENT_A, { serialNumber: 'e1' }),
      after(T0, 5),
    )
    t.equal(reattested.previousSerialNumber, '', 'cleared by re-attestation')
    t.equal(reattested.previousExpiresAt, undefined)
    await ds.updateAgentSvid(AGENT_A, 'e2', after(T0, 8000), 'e1')
    t.equal((await ds.getAttestedAgent(AGENT_A))?.previousSerialNumber, 'e1')
    await ds.banAttestedAgent(AGENT_A)
    const banned = await ds.getAttestedAgent(AGENT_A)
    t.equal(banned?.previousSerialNumber, '', 'cleared by a ban')
    t.equal(banned?.previousExpiresAt, undefined)
    await t.rejects(ds.forgetPreviousAgentSvid(AGENT_A, 7 as never), TypeError)
  })

  t.test('ban keeps the row, clears the serial, and is never undone by re-attestation', async (t) => {
    const ds = await openStore(t, makeStore)
    const C = `${TD}/sigil/agent/join_token/cccc`
    for (const id of [C, AGENT_B, AGENT_A]) await ds.createOrUpdateAttestedAgent(agent(id), T0)
    await ds.banAttestedAgent(AGENT_B)
    const banned = await ds.getAttestedAgent(AGENT_B)
    t.equal(banned?.banned, true, 'row kept, banned')
    t.equal(banned?.serialNumber, '', 'serial cleared')
    t.same(
      (await ds.listAttestedAgents()).map((a) => a.spiffeId),
      [AGENT_A, AGENT_B, C],
    )
    t.same(
      (await ds.listAttestedAgents({ banned: true })).map((a) => a.spiffeId),
      [AGENT_B],
    )
    t.same(
      (await ds.listAttestedAgents({ banned: false })).map((a) => a.spiffeId),
      [AGENT_A, C],
    )
    await t.rejects(ds.createOrUpdateAttestedAgent(agent(AGENT_B), after(T0, 5)), {
      code: 'ERR_AGENT_BANNED',
    })
    await t.rejects(ds.updateAgentSvid(AGENT_B, '01', after(T0, 99)), { code: 'ERR_AGENT_BANNED' })
    t.same(await ds.getAttestedAgent(AGENT_B), banned, 'the refused re-attestation changed nothing')
    await ds.banAttestedAgent(AGENT_B)
    t.equal((await ds.getAttestedAgent(AGENT_B))?.banned, true, 'banning twice is harmless')
    await t.rejects(ds.banAttestedAgent(`${TD}/sigil/agent/nobody`), { code: 'ERR_NOT_FOUND' })
  })

  t.test('evict deletes the row so the agent may attest again', async (t) => {
    const ds = await openStore(t, makeStore)
    await ds.createOrUpdateAttestedAgent(agent(AGENT_A, { selectors: sel('x509pop:subject:cn:a') }), T0)
    await ds.deleteAttestedAgent(AGENT_A)
    t.equal(await ds.getAttestedAgent(AGENT_A), undefined)
    t.same(await ds.listAttestedAgents(), [])
    await t.rejects(ds.deleteAttestedAgent(AGENT_A), { code: 'ERR_NOT_FOUND' })
    const again = await ds.createOrUpdateAttestedAgent(agent(AGENT_A, { selectors: [] }), after(T0, 100))
    t.same(again.createdAt, after(T0, 100), 'a new row')
    t.same(again.selectors, [], 'no selectors left over from before the eviction')

    // evicting a banned agent is how an operator lifts a ban (as in SPIRE)
    await ds.banAttestedAgent(AGENT_A)
    await ds.deleteAttestedAgent(AGENT_A)
    t.equal((await ds.createOrUpdateAttestedAgent(agent(AGENT_A), after(T0, 200))).banned, false)
  })
}
