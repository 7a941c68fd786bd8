/**
 * The agent's half of the AttestAgent stream (proto/sigil/agent/v1/agent.proto): send `params`
 * (type, evidence, CSR); for x509pop answer the one `challenge` with a signature made by the
 * x509pop key; wait for `result`. Anything out of order ends the call. Trust: the server was
 * authenticated by TLS (or, under insecure bootstrap, not yet: the caller confirms afterwards).
 */
import type { ClientDuplexStream } from '@grpc/grpc-js'
import { SigilError } from '../../certs/errors.js'
import { signX509popChallenge } from '../../certs/x509pop/x509pop-proof.js'
import type { AgentSvidResult__Output } from '../../proto/generated/sigil/agent/v1/AgentSvidResult.js'
import type { AttestAgentRequest } from '../../proto/generated/sigil/agent/v1/AttestAgentRequest.js'
import type { AttestAgentResponse__Output } from '../../proto/generated/sigil/agent/v1/AttestAgentResponse.js'
import { fromGrpcError } from './grpc-error.js'
import type { NodeCredential } from './node-credential.js'

/** The stream as the generated client returns it. */
export type AttestStream = ClientDuplexStream<AttestAgentRequest, AttestAgentResponse__Output>

/**
 * Runs the attestation exchange on an open stream; resolves the server's result. Rejects with
 * `ERR_ATTESTATION_FAILED` when the server refuses, `ERR_UNAVAILABLE` when it cannot be reached.
 */
export function runAttestation(
  call: AttestStream,
  credential: NodeCredential,
  csrDer: Buffer,
): Promise<AgentSvidResult__Output> {
  return new Promise((resolve, reject) => {
    let result: AgentSvidResult__Output | undefined
    let answered = false
    let settled = false
    const finish = (err: SigilError | undefined) => {
      if (settled) return
      settled = true
      if (err) {
        call.cancel()
        reject(err)
      } else if (result) resolve(result)
      else reject(new SigilError('ERR_ATTESTATION_FAILED', 'the server ended attestation without a result'))
    }
    call.on('data', (msg: AttestAgentResponse__Output) => {
      if (msg.step === 'challenge' && msg.challenge) {
        if (credential.type !== 'x509pop' || answered || result) {
          finish(new SigilError('ERR_ATTESTATION_FAILED', 'unexpected challenge from the server'))
          return
        }
        answered = true
        call.write({ challenge_response: signX509popChallenge(credential.privateKey, msg.challenge) })
      } else if (msg.step === 'result' && msg.result) {
        result = msg.result
        call.end()
      } else {
        finish(new SigilError('ERR_ATTESTATION_FAILED', 'malformed attestation message from the server'))
      }
    })
    call.on('error', (err) => finish(fromGrpcError(err, 'node attestation', 'ERR_ATTESTATION_FAILED')))
    call.on('status', (status) => {
      if (status.code === 0) finish(undefined)
    })
    const payload =
      credential.type === 'join_token'
        ? Buffer.from(credential.token, 'utf8')
        : Buffer.concat([...credential.chainDer])
    call.write({ params: { type: credential.type, payload, csr: csrDer } })
  })
}
