// An x509pop PKI made at run time with the openssl binary (a CA, optionally an intermediate,
// and a leaf with its key), for the node attestation and agent API tests.
import { execFileSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { importPrivateKey } from '../../../certs/keys/keys.js'
import { pemToCertificates } from '../../../certs/x509svid/pem.js'

/** An x509pop PKI made with openssl: a CA, a leaf signed by it, and its key. */
export interface X509popPki {
  caDer: Buffer
  leafDer: Buffer
  leafKey: ReturnType<typeof importPrivateKey>
  intermediateDer?: Buffer
}

/**
 * Makes an x509pop CA and a leaf (CN, DNS SAN, clientAuth) with openssl in `dir`; with
 * `intermediate`, the leaf is signed by an intermediate CA below the root.
 */
export function makeX509popPki(
  dir: string,
  cn: string,
  opts: { intermediate?: boolean; leafExtensions?: string; leafKeyAlg?: string[] } = {},
): X509popPki {
  const tag = randomUUID().slice(0, 8)
  const p = (name: string) => join(dir, `${tag}-${name}`)
  const ossl = (...args: string[]) => execFileSync('/usr/bin/openssl', args, { stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
  const caExt = [
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]
  ossl(
    'req',
    '-x509',
    ...ec,
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-subj',
    `/CN=x509pop CA ${tag}`,
    '-days',
    '2',
    ...caExt,
  )
  const serial = () => `0x${randomBytes(8).toString('hex')}`
  let signer = { cert: p('ca.pem'), key: p('ca.key') }
  if (opts.intermediate) {
    writeFileSync(
      p('int.cnf'),
      'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n',
    )
    ossl(
      'req',
      '-new',
      ...ec,
      '-nodes',
      '-keyout',
      p('int.key'),
      '-out',
      p('int.csr'),
      '-subj',
      `/CN=x509pop intermediate ${tag}`,
    )
    ossl(
      'x509',
      '-req',
      '-in',
      p('int.csr'),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-set_serial',
      serial(),
      '-days',
      '2',
      '-extfile',
      p('int.cnf'),
      '-out',
      p('int.pem'),
    )
    signer = { cert: p('int.pem'), key: p('int.key') }
  }
  ossl(
    'req',
    '-new',
    ...(opts.leafKeyAlg ?? ec),
    '-nodes',
    '-keyout',
    p('leaf.key'),
    '-out',
    p('leaf.csr'),
    '-subj',
    `/CN=${cn}`,
  )
  writeFileSync(
    p('ext.cnf'),
    opts.leafExtensions ??
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:${cn}.nodes.example.org\n`,
  )
  ossl(
    'x509',
    '-req',
    '-in',
    p('leaf.csr'),
    '-CA',
    signer.cert,
    '-CAkey',
    signer.key,
    '-set_serial',
    serial(),
    '-days',
    '1',
    '-extfile',
    p('ext.cnf'),
    '-out',
    p('leaf.pem'),
  )
  const cert = (name: string) => pemToCertificates(readFileSync(p(name), 'utf8'))[0]!
  return {
    caDer: cert('ca.pem'),
    leafDer: cert('leaf.pem'),
    leafKey: importPrivateKey(readFileSync(p('leaf.key'))),
    ...(opts.intermediate ? { intermediateDer: cert('int.pem') } : {}),
  }
}
