// A small web PKI made by openssl at run time: a CA and a server certificate for localhost and
// 127.0.0.1 (https_web bundle endpoints in tests). No key material is committed.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** A web CA and a server certificate for localhost and 127.0.0.1, made by openssl. */
export function makeWebPki(dir: string): { ca: string; key: string; cert: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-subj',
    '/CN=test web CA',
    '-days',
    '1',
  )
  openssl('req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=localhost')
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  )
  openssl(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-set_serial',
    '2',
    '-days',
    '1',
    '-extfile',
    'ext.cnf',
    '-out',
    'srv.pem',
  )
  const read = (f: string) => readFileSync(join(dir, f), 'utf8')
  return { ca: read('ca.pem'), key: read('srv.key'), cert: read('srv.pem') }
}
