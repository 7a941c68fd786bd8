// Sigil's own contracts load through the one loader and have the services, methods, shapes and
// field numbers the server, agent and CLI are written against; the AttestAgent oneofs work on a
// real bidirectional stream.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { credentials, Server, ServerCredentials, status } from '@grpc/grpc-js'
import type { MessageTypeDefinition } from '@grpc/proto-loader'
import t from 'tap'
import type { AttestAgentResponse__Output } from '../../proto/generated/sigil/agent/v1/AttestAgentResponse.js'
import { type AgentAPIHandlers, loadAdminApi, loadAgentApi, loadProto } from '../../proto/loader.js'
import { describeMessage, messageDescriptor } from './describe-message.js'

type Shape = 'unary' | 'server-stream' | 'bidi'

function shapeOf(m: { requestStream: boolean; responseStream: boolean }): Shape | 'client-stream' {
  if (m.requestStream) return m.responseStream ? 'bidi' : 'client-stream'
  return m.responseStream ? 'server-stream' : 'unary'
}

const AGENT_METHODS: Record<string, Shape> = {
  AttestAgent: 'bidi',
  RenewAgent: 'unary',
  SyncAuthorizedEntries: 'unary',
  BatchNewX509Svid: 'unary',
  NewJwtSvid: 'unary',
  NewWitSvid: 'unary',
  GetBundle: 'unary',
  BeginTask: 'unary',
  FetchTaskJwtSvid: 'unary',
  EndTask: 'unary',
  WatchAgentUpdates: 'server-stream',
  RevokeExitedSvids: 'unary',
  HoldForApproval: 'unary',
}

const ADMIN_METHODS = [
  'CreateJoinToken',
  'CreateEntry',
  'UpdateEntry',
  'DeleteEntry',
  'ListEntries',
  'CountEntries',
  'ListAgents',
  'GetAgent',
  'EvictAgent',
  'BanAgent',
  'GetBundle',
  'MintX509Svid',
  'MintJwtSvid',
  'MintWitSvid',
  'ListSvids',
  'Health',
  'ListTasks',
  'GetTask',
  'EndTask',
  'RevokeSvid',
  'ListRevocations',
  'ListAuditRecords',
  'VerifyAuditTrail',
  'ExplainSvid',
  'CreateFederationRelationship',
  'UpdateFederationRelationship',
  'ListFederationRelationships',
  'GetFederationRelationship',
  'DeleteFederationRelationship',
  'RefreshFederatedBundle',
  'ListFederatedBundles',
  'SetFederatedBundle',
  'DeleteFederatedBundle',
  'CountFederatedBundles',
  'SetPolicy',
  'GetPolicy',
  'ListPolicies',
  'TestPolicy',
  'ListApprovals',
  'ApproveApproval',
  'DenyApproval',
  // issue 16 item 4: localauthority and logger
  'GetLocalAuthorities',
  'PrepareLocalAuthority',
  'ActivateLocalAuthority',
  'TaintLocalAuthority',
  'RevokeLocalAuthority',
  'GetLogger',
  'SetLogLevel',
  'ResetLogLevel',
]

const C = 'sigil.common.v1'
const A = 'sigil.agent.v1'

const COMMON: Record<string, Record<string, string>> = {
  Selector: { type: '1 string', value: '2 string' },
  RegistrationEntry: {
    id: '1 string',
    spiffe_id: '2 string',
    parent_id: '3 string',
    selectors: `4 repeated ${C}.Selector`,
    x509_svid_ttl: '5 int32',
    jwt_svid_ttl: '6 int32',
    dns_names: '7 repeated string',
    hint: '8 string',
    admin: '9 bool',
    node: '10 bool',
    federates_with: '11 repeated string',
    revision_number: '12 int64',
    created_at: '13 int64',
    task_scopes: '14 repeated string',
    max_task_ttl: '15 int32',
    revoke_on_exit: '16 bool',
    owner: '20 string',
    purpose: '21 string',
    risk: '22 string',
    expires_at: '30 int64',
  },
  Bundle: { trust_domain: '1 string', spiffe_bundle: '2 bytes', sequence_number: '3 int64' },
  X509Svid: {
    spiffe_id: '1 string',
    cert_chain: '2 repeated bytes',
    expires_at: '3 int64',
    serial: '4 string',
  },
}

const AGENT: Record<string, Record<string, string>> = {
  AttestAgentRequest: { params: `1 ${A}.AttestationParams`, challenge_response: '2 bytes' },
  AttestationParams: { type: '1 string', payload: '2 bytes', csr: '3 bytes' },
  AttestAgentResponse: { challenge: '1 bytes', result: `2 ${A}.AgentSvidResult` },
  AgentSvidResult: { svid: `1 ${C}.X509Svid`, bundle: `2 ${C}.Bundle` },
  RenewAgentRequest: { csr: '1 bytes' },
  RenewAgentResponse: { svid: `1 ${C}.X509Svid` },
  SyncAuthorizedEntriesRequest: {
    known_entries_digest: '1 string',
    known_revocation_sequence: '2 int64',
    known_crls_digest: '3 string',
  },
  SyncAuthorizedEntriesResponse: {
    entries: `1 repeated ${C}.RegistrationEntry`,
    bundle: `2 ${C}.Bundle`,
    federated_bundles: `3 repeated ${C}.Bundle`,
    entries_digest: '4 string',
    unchanged: '5 bool',
    revocations: `6 ${A}.RevocationUpdate`,
    crls: '7 repeated bytes',
    crls_digest: '8 string',
  },
  BatchNewX509SvidRequest: { params: `1 repeated ${A}.X509SvidParams` },
  X509SvidParams: { entry_id: '1 string', csr: '2 bytes' },
  BatchNewX509SvidResponse: { results: `1 repeated ${A}.X509SvidResult` },
  X509SvidResult: { entry_id: '1 string', svid: `2 ${C}.X509Svid` },
  NewJwtSvidRequest: { entry_id: '1 string', audience: '2 repeated string' },
  NewJwtSvidResponse: {
    token: '1 string',
    spiffe_id: '2 string',
    expires_at: '3 int64',
    issued_at: '4 int64',
  },
  NewWitSvidRequest: { entry_id: '1 string', public_key_jwk: '2 string' },
  NewWitSvidResponse: {
    token: '1 string',
    spiffe_id: '2 string',
    expires_at: '3 int64',
    issued_at: '4 int64',
  },
  GetBundleRequest: {},
  GetBundleResponse: { bundle: `1 ${C}.Bundle` },
  BeginTaskRequest: {
    entry_id: '1 string',
    process_key: '2 string',
    purpose: '3 string',
    scope: '4 repeated string',
    ttl_seconds: '5 int64',
    on_behalf_of: '6 string',
    parent_txn_token: '7 string',
  },
  BeginTaskResponse: {
    task_id: '1 string',
    txn_token: '2 string',
    expires_at: '3 int64',
    spiffe_id: '4 string',
  },
  FetchTaskJwtSvidRequest: {
    task_id: '1 string',
    audience: '2 string',
    process_key: '3 string',
    entry_ids: '4 repeated string',
  },
  EndTaskRequest: { task_id: '1 string', outcome: '2 string', process_key: '3 string', reason: '4 string' },
  WatchAgentUpdatesRequest: { revocation_sequence: '1 int64' },
  RevokeExitedSvidsRequest: { serials: '1 repeated string' },
  RevokeExitedSvidsResponse: { revoked: '1 repeated string', refused: '2 repeated string' },
  AgentUpdate: {
    revocations: `1 ${A}.RevocationUpdate`,
    crls: `2 ${A}.CrlUpdate`,
    policy: `3 ${A}.PolicyUpdate`,
    tainted_authorities: `5 ${A}.AuthorityTaintUpdate`,
    entries_changed: `6 ${A}.EntriesChanged`,
    bundle_changed: `7 ${A}.BundleChanged`,
  },
  PolicyUpdate: { version: '1 int64', text: '2 string', sha256: '3 string' },
  AuthorityTaintUpdate: { x509_authority_ids: '1 repeated string', jwt_authority_ids: '2 repeated string' },
  EntriesChanged: { entries_version: '1 string' },
  BundleChanged: { sequence_number: '1 int64' },
  CrlUpdate: { crls: '1 repeated bytes', digest: '2 string' },
  RevocationUpdate: {
    snapshot: '1 bool',
    sequence: '2 int64',
    revoked: `3 repeated ${A}.RevokedCredential`,
    more: '4 bool',
  },
  RevokedCredential: { kind: '1 string', value: '2 string', expires_at: '3 int64' },
}

t.test('common types have the agreed field numbers', async (t) => {
  const def = loadProto('sigil/common/v1/types.proto')
  for (const [name, fields] of Object.entries(COMMON))
    t.same(describeMessage(def, `${C}.${name}`), fields, name)
})

t.test('AgentAPI has its ten methods, shapes and messages', async (t) => {
  const api = loadAgentApi()
  t.same(Object.keys(api.service).sort(), Object.keys(AGENT_METHODS).sort())
  for (const [name, shape] of Object.entries(AGENT_METHODS)) {
    const m = api.service[name]
    if (!m) {
      t.fail(`${name} missing`)
      continue
    }
    t.equal(m.path, `/sigil.agent.v1.AgentAPI/${name}`)
    t.equal(shapeOf(m), shape, `${name} is ${shape}`)
  }
  for (const [name, fields] of Object.entries(AGENT)) {
    t.same(describeMessage(api.packageDefinition, `${A}.${name}`), fields, name)
  }
  const def = api.packageDefinition
  t.same(messageDescriptor(def, `${A}.AttestAgentRequest`).oneofDecl, [{ name: 'step', options: null }])
  t.same(messageDescriptor(def, `${A}.AttestAgentResponse`).oneofDecl, [{ name: 'step', options: null }])
})

t.test('AdminAPI has one unary method per CLI command, with an Agent record', async (t) => {
  const api = loadAdminApi()
  t.same(Object.keys(api.service).sort(), [...ADMIN_METHODS].sort())
  for (const name of ADMIN_METHODS) {
    const m = api.service[name]
    if (!m) {
      t.fail(`${name} missing`)
      continue
    }
    t.equal(m.path, `/sigil.admin.v1.AdminAPI/${name}`)
    t.equal(shapeOf(m), 'unary', `${name} is unary`)
  }
  const def = api.packageDefinition
  t.same(describeMessage(def, 'sigil.admin.v1.Agent'), {
    spiffe_id: '1 string',
    attestation_type: '2 string',
    serial: '3 string',
    expires_at: '4 int64',
    banned: '5 bool',
    last_seen: '6 int64',
    selectors: `7 repeated ${C}.Selector`,
  })
  t.same(describeMessage(def, 'sigil.admin.v1.CreateEntryRequest'), {
    entry: `1 ${C}.RegistrationEntry`,
    allow_script_only: '2 bool',
  })
  t.same(describeMessage(def, 'sigil.admin.v1.MintX509SvidRequest'), {
    spiffe_id: '1 string',
    csr: '2 bytes',
    ttl: '3 int32',
    dns_names: '4 repeated string',
  })
  t.same(describeMessage(def, 'sigil.admin.v1.LocalAuthority'), {
    authority_id: '1 string',
    status: '2 string',
    not_before: '3 int64',
    expires_at: '4 int64',
    tainted: '5 bool',
    certificate: '6 bytes',
    signed_until: '7 int64',
  })
  t.same(describeMessage(def, 'sigil.admin.v1.LocalAuthorityRequest'), {
    kind: '1 string',
    authority_id: '2 string',
  })
  t.match(describeMessage(def, 'sigil.admin.v1.SvidRecord'), {
    kind: '1 string',
    audience: '9 repeated string',
  })
})

t.test('int64 fields decode as JS numbers and oneofs name their set member', async (t) => {
  const def = loadAgentApi().packageDefinition
  const msg = (name: string) => def[`${A}.${name}`] as MessageTypeDefinition<object, object>
  const bytes = msg('NewJwtSvidResponse').serialize({ token: 't', expires_at: 1_700_000_123 })
  t.same(msg('NewJwtSvidResponse').deserialize(bytes), {
    token: 't',
    spiffe_id: '',
    expires_at: 1_700_000_123,
    issued_at: 0,
  })
  const challenge = msg('AttestAgentResponse').deserialize(Buffer.from([0x0a, 1, 0x42]))
  t.match(challenge, { step: 'challenge', challenge: Buffer.from([0x42]) })
})

t.test('AttestAgent runs a challenge round trip over a real bidirectional stream', async (t) => {
  const api = loadAgentApi()
  const dir = await mkdtemp(join(tmpdir(), 'sigil-proto-'))
  const address = `unix://${join(dir, 'server.sock')}`
  const unimplemented = (_call: unknown, cb: (e: { code: number }) => void) =>
    cb({ code: status.UNIMPLEMENTED })
  const handlers: AgentAPIHandlers = {
    AttestAgent(call) {
      call.on('data', (req) => {
        if (req.step === 'params') {
          t.equal(req.params?.type, 'x509pop')
          t.same([...(req.params?.csr ?? [])], [1, 2, 3])
          call.write({ challenge: Buffer.from('nonce') })
        } else if (req.step === 'challenge_response') {
          t.equal(req.challenge_response?.toString(), 'signed:nonce')
          call.write({
            result: {
              svid: {
                spiffe_id: 'spiffe://example.org/agent/x',
                cert_chain: [Buffer.from([9])],
                expires_at: 42,
              },
              bundle: {
                trust_domain: 'example.org',
                spiffe_bundle: Buffer.from('{"keys":[]}'),
                sequence_number: 7,
              },
            },
          })
          call.end()
        }
      })
    },
    RenewAgent: unimplemented,
    SyncAuthorizedEntries: unimplemented,
    BatchNewX509Svid: unimplemented,
    NewJwtSvid: unimplemented,
    NewWitSvid: unimplemented,
    GetBundle: unimplemented,
    BeginTask: unimplemented,
    FetchTaskJwtSvid: unimplemented,
    EndTask: unimplemented,
    WatchAgentUpdates: (call) => call.emit('error', { code: status.UNIMPLEMENTED }),
    RevokeExitedSvids: unimplemented,
    HoldForApproval: unimplemented,
  }
  const server = new Server()
  server.addService(api.service, handlers)
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  )
  const client = new api.Client(address, credentials.createInsecure())
  t.teardown(async () => {
    client.close()
    server.forceShutdown()
    await rm(dir, { recursive: true, force: true })
  })

  const call = client.AttestAgent()
  const received: AttestAgentResponse__Output[] = []
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (res: AttestAgentResponse__Output) => {
      received.push(res)
      if (res.step === 'challenge') call.write({ challenge_response: Buffer.from(`signed:${res.challenge}`) })
      if (res.step === 'result') call.end()
    })
    call.on('error', reject)
    call.on('end', resolve)
  })
  call.write({ params: { type: 'x509pop', payload: Buffer.from([0x30]), csr: Buffer.from([1, 2, 3]) } })
  await done
  t.same(
    received.map((r) => r.step),
    ['challenge', 'result'],
  )
  const result = received[1]?.result
  t.equal(result?.svid?.spiffe_id, 'spiffe://example.org/agent/x')
  t.equal(result?.svid?.expires_at, 42)
  t.equal(result?.bundle?.sequence_number, 7)
  t.equal(result?.bundle?.spiffe_bundle.toString(), '{"keys":[]}')

  const renew = await new Promise<number | undefined>((resolve) =>
    client.RenewAgent({ csr: Buffer.from([1]) }, (err) => resolve(err?.code)),
  )
  t.equal(renew, status.UNIMPLEMENTED)
})
