/**
 * Small output helpers shared by the agent's CLI commands: one-line failure reports for
 * Workload API errors (exit 1), atomic file writes with an explicit mode, and the facts of an
 * X.509 response decoded for printing. Never prints a private key.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { readCertificateFacts } from '../../certs/x509svid/certificate-facts.js'
import { splitConcatenatedDer } from '../../certs/x509svid/parse-x509-svid.js'
import { type CliIo, EXIT_FAILED } from '../../common/cli/cli-io.js'
import { errorText } from '../../common/errors/error-text.js'
import type { X509SVID__Output } from '../../proto/generated/X509SVID.js'
import { WorkloadApiError } from './workload-client.js'

/**
 * Reports a failed call on one stderr line and returns exit code 1.
 *
 * @example
 * return reportFailure(io, 'api fetch x509', err, socketPath)
 */
export function reportFailure(io: CliIo, command: string, err: unknown, socketPath: string): number {
  let why: string
  if (
    err instanceof WorkloadApiError &&
    (err.statusName === 'UNAVAILABLE' || err.statusName === 'DEADLINE_EXCEEDED')
  ) {
    why = `cannot reach the Workload API at ${socketPath} (${err.statusName}: ${grpcDetail(err.message)})`
  } else if (err instanceof WorkloadApiError) {
    why = `${err.statusName}: ${err.message}`
  } else {
    why = errorText(err)
  }
  io.stderr.write(`sigil-agent ${command}: ${why.replace(/\s*\n\s*/g, ' ')}\n`)
  return EXIT_FAILED
}

/**
 * A grpc-js failure detail without its resolver noise: grpc-js appends "Resolution note: …"
 * (often empty, leaving "Resolution note: )") to connection errors.
 *
 * @example
 * grpcDetail('No connection established. Last error: connect ENOENT /x.sock (…). Resolution note: ') // '… (…)'
 */
export function grpcDetail(message: string): string {
  return message
    .replace(/[.,;]?\s*Resolution note:[^)]*/g, '')
    .replace(/\s+\)/g, ')')
    .trim()
}

/** Writes `data` to `path` through a temporary file and a rename, with `mode`. */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  const file = await open(tmp, 'wx', mode)
  try {
    await file.writeFile(data, 'utf8')
    await file.sync()
    await file.close()
    await chmod(tmp, mode)
    await rename(tmp, path)
  } catch (e) {
    await file.close().catch(() => {})
    await rm(tmp, { force: true })
    throw e
  }
}

/** What the CLI shows about one X509-SVID of a response. */
export interface X509SvidFacts {
  readonly spiffeId: string
  readonly hint: string
  /** DER, leaf first. */
  readonly chain: Buffer[]
  /** DER CA certificates of the SVID's trust domain. */
  readonly bundle: Buffer[]
  readonly serial: string
  readonly notBefore: Date
  readonly notAfter: Date
}

/** Decodes one X509SVID message for printing (throws `ERR_CERT_INVALID` for bad DER). */
export function x509SvidFacts(svid: X509SVID__Output): X509SvidFacts {
  const chain = splitConcatenatedDer(svid.x509_svid)
  const leaf = readCertificateFacts(chain[0] ?? Buffer.alloc(0))
  return {
    spiffeId: svid.spiffe_id,
    hint: svid.hint,
    chain,
    bundle: splitConcatenatedDer(svid.bundle),
    serial: leaf.serialHex,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
  }
}
