// Runs the real /usr/bin/openssl for independent checks of what Sigil writes.
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'

export interface OpensslResult {
  code: number
  stdout: string
  /** stdout as bytes (for DER output). */
  stdoutBytes: Buffer
  stderr: string
}

/** Runs `openssl <args>` and resolves with its exit code and output (never rejects on exit code). */
export function openssl(args: string[], input?: Buffer | string): Promise<OpensslResult> {
  return new Promise((resolve, reject) => {
    const options = { maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' as const }
    const child = execFile('openssl', args, options, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err)
      const code = typeof err?.code === 'number' ? err.code : 0
      resolve({ code, stdout: stdout.toString('utf8'), stdoutBytes: stdout, stderr: stderr.toString('utf8') })
    })
    if (input !== undefined) child.stdin?.end(input)
  })
}

/** `openssl verify -x509_strict -CAfile root [-untrusted file] [-attime t] leaf...`. */
export function opensslVerify(o: {
  caFile: string
  untrusted?: string
  attime?: Date
  leafFiles: string[]
}): Promise<OpensslResult> {
  const args = ['verify', '-x509_strict', '-no-CApath', '-no-CAstore', '-CAfile', o.caFile]
  if (o.untrusted) args.push('-untrusted', o.untrusted)
  if (o.attime) args.push('-attime', String(Math.floor(o.attime.getTime() / 1000)))
  return openssl([...args, ...o.leafFiles])
}

/** openssl's independent verdict on a chain (leaf first, then untrusted intermediates) against one trust anchor. */
export async function opensslAccepts(chain: readonly Buffer[], anchor: Buffer, at?: Date): Promise<boolean> {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-verify-'))
  try {
    await writeFile(join(dir, 'root.pem'), certificatesToPem([anchor]))
    await writeFile(join(dir, 'leaf.pem'), certificatesToPem([chain[0]!]))
    const rest = chain.slice(1)
    if (rest.length) await writeFile(join(dir, 'untrusted.pem'), certificatesToPem(rest))
    const r = await opensslVerify({
      caFile: join(dir, 'root.pem'),
      leafFiles: [join(dir, 'leaf.pem')],
      ...(rest.length ? { untrusted: join(dir, 'untrusted.pem') } : {}),
      ...(at ? { attime: at } : {}),
    })
    return r.code === 0
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** `openssl x509 -text -noout` of a DER certificate. */
export async function opensslText(der: Buffer): Promise<string> {
  const r = await openssl(['x509', '-inform', 'DER', '-text', '-noout'], der)
  if (r.code !== 0) throw new Error(`openssl x509 failed: ${r.stderr}`)
  return r.stdout
}
