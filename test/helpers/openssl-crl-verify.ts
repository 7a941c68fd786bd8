// `openssl verify` with CRL checking, as an operator runs it against Sigil's CRLs: no system
// trust store, the given anchors, the CRL file, `-crl_check` (leaf) or `-crl_check_all` (chain).
import { execFileSync } from 'node:child_process'

/** openssl's exit code (0: verified) and its stdout + stderr. */
export interface OpensslRun {
  readonly code: number
  readonly out: string
}

/**
 * Runs `openssl verify -crl_check[_all]` on a leaf PEM file.
 *
 * @example
 * const { code, out } = opensslCrlVerify({ caFile: 'bundle.pem', crlFile: 'crl.pem', leaf: 'svid.pem' })
 */
export function opensslCrlVerify(o: {
  caFile: string
  crlFile: string
  leaf: string
  /** Intermediates (PEM file) and `-crl_check_all`: every certificate of the chain needs a CRL. */
  untrusted?: string
}): OpensslRun {
  const args = ['verify', '-no-CApath', '-no-CAstore', o.untrusted ? '-crl_check_all' : '-crl_check']
  args.push(
    '-CAfile',
    o.caFile,
    ...(o.untrusted ? ['-untrusted', o.untrusted] : []),
    '-CRLfile',
    o.crlFile,
    o.leaf,
  )
  try {
    return { code: 0, out: execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe' }) }
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string }
    return { code: err.status, out: `${err.stdout}${err.stderr}` }
  }
}
