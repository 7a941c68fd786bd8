/**
 * A bench-side client of the server's agent API (what a real agent does, minus the agent):
 * attest with a join token over TLS (the server is checked by its SPIFFE ID against the
 * bundle), then call it over mTLS with the agent SVID. Each client gets its own channel
 * (`grpc.use_local_subchannel_pool`), so concurrent callers use separate TLS connections.
 */
import { credentials, type ServiceError } from '@grpc/grpc-js'
import { generateKeyPair, privateKeyToPkcs8Pem } from '../../certs/keys/keys.js'
import { createCsr } from '../../certs/x509svid/csr.js'
import { certificatesToPem } from '../../certs/x509svid/pem.js'
import type { AttestAgentResponse__Output } from '../../proto/generated/sigil/agent/v1/AttestAgentResponse.js'
import type { BatchNewX509SvidResponse__Output } from '../../proto/generated/sigil/agent/v1/BatchNewX509SvidResponse.js'
import { type AgentAPIClient, loadAgentApi } from '../../proto/loader.js'

const SERVER_ID = 'spiffe://example.org/sigil/server'
const api = loadAgentApi()
const CHANNEL_OPTIONS = {
  'grpc.ssl_target_name_override': 'sigil-server',
  'grpc.use_local_subchannel_pool': 1,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
}

function checkServerIdentity(_host: string, cert: { subjectaltname?: string }): Error | undefined {
  return cert.subjectaltname === `URI:${SERVER_ID}` ? undefined : new Error('not the Sigil server')
}

/** An attested agent's credential: its SVID chain (DER, leaf first) and private key (PEM). */
export interface AgentCredential {
  readonly chainPem: string
  readonly keyPem: string
}

/**
 * Attests as an agent with a join token; resolves the agent SVID and key.
 *
 * @example
 * const cred = await attestWithJoinToken('127.0.0.1:8081', bundlePem, token)
 */
export async function attestWithJoinToken(
  address: string,
  rootPem: string,
  token: string,
): Promise<AgentCredential> {
  const keys = await generateKeyPair('ec-p256')
  const csr = await createCsr(keys)
  const anon = new api.Client(
    address,
    credentials.createSsl(Buffer.from(rootPem), null, null, { checkServerIdentity }),
    CHANNEL_OPTIONS,
  )
  try {
    const messages = await new Promise<AttestAgentResponse__Output[]>((resolve, reject) => {
      const stream = anon.AttestAgent()
      const got: AttestAgentResponse__Output[] = []
      stream.on('data', (m: AttestAgentResponse__Output) => got.push(m))
      stream.on('error', reject)
      stream.on('end', () => resolve(got))
      stream.write({ params: { type: 'join_token', payload: Buffer.from(token), csr } })
    })
    const chain = messages.find((m) => m.step === 'result')?.result?.svid?.cert_chain
    if (!chain || chain.length === 0) throw new Error('AttestAgent returned no SVID')
    return { chainPem: certificatesToPem(chain), keyPem: privateKeyToPkcs8Pem(keys.privateKey) }
  } finally {
    anon.close()
  }
}

/** A new mTLS channel to the agent API, presenting `cred`. */
export function agentApiClient(address: string, rootPem: string, cred: AgentCredential): AgentAPIClient {
  return new api.Client(
    address,
    credentials.createSsl(Buffer.from(rootPem), Buffer.from(cred.keyPem), Buffer.from(cred.chainPem), {
      checkServerIdentity,
    }),
    CHANNEL_OPTIONS,
  )
}

/** One BatchNewX509Svid call; resolves the number of SVIDs returned. */
export function batchNewX509Svid(
  client: AgentAPIClient,
  params: readonly { entry_id: string; csr: Buffer }[],
): Promise<number> {
  return new Promise((resolve, reject) => {
    client.BatchNewX509Svid(
      { params: [...params] },
      (err: ServiceError | null, res?: BatchNewX509SvidResponse__Output) =>
        err ? reject(err) : resolve(res?.results.length ?? 0),
    )
  })
}
