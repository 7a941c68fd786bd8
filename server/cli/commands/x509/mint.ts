/**
 * `sigil-server x509 mint`: see ../x509.ts. With `--write DIR` it writes `svid.pem` (leaf
 * first, then intermediates), `key.pem` (PKCS#8, mode 0600) and `bundle.pem` (the X.509
 * roots), each through a temporary file and a rename; without it, prints all three.
 */
import { resolve } from 'node:path'
import { generateKeyPair, privateKeyToPkcs8Pem, publicKeyToSpkiDer } from '../../../../certs/keys/keys.js'
import { readCertificateFacts } from '../../../../certs/x509svid/certificate-facts.js'
import { createCsr } from '../../../../certs/x509svid/csr.js'
import { certificatesToPem } from '../../../../certs/x509svid/pem.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { decodeBundleMessage } from '../../bundle-message.js'
import { dnsNameFlags, spiffeIdFlag, ttlFlag } from '../../flag-values.js'
import { isoTime } from '../../format-records.js'
import { writeCredentialFiles } from '../../write-credential-files.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server x509 mint',
  description:
    'Mints an X509-SVID for --spiffe-id with a key generated here (P-256); only a CSR is sent to the server.',
  options: (j) =>
    j
      .opt({
        'spiffe-id': { hint: 'id', description: 'SPIFFE ID of the SVID (required)' },
        ttl: { hint: 'duration', description: 'Lifetime, e.g. 1h (default: the server setting)' },
        write: {
          hint: 'dir',
          description: 'Write svid.pem, key.pem (0600) and bundle.pem into this directory',
        },
      })
      .optList({ 'dns-name': { hint: 'name', description: 'DNS SAN to add (repeatable)' } }),
  required: ['spiffe-id'],
  run: async (v, ctx) => {
    const spiffeId = spiffeIdFlag(v['spiffe-id'] ?? '', '--spiffe-id')
    const ttl = v.ttl === undefined ? 0 : ttlFlag(v.ttl, '--ttl')
    const dnsNames = dnsNameFlags(v['dns-name'] ?? [])
    const keys = await generateKeyPair('ec-p256')
    const csr = await createCsr(keys)
    const res = await ctx.admin().call('MintX509Svid', { spiffe_id: spiffeId, csr, ttl, dns_names: dnsNames })
    const chain = res.svid?.cert_chain ?? []
    const leaf = chain[0]
    if (!leaf || !readCertificateFacts(leaf).spkiDer.equals(publicKeyToSpkiDer(keys.publicKey))) {
      throw new Error('the server returned a certificate that does not hold the generated key')
    }
    const pems = {
      svid: certificatesToPem(chain),
      key: privateKeyToPkcs8Pem(keys.privateKey),
      bundle: certificatesToPem([...decodeBundleMessage(res.bundle).x509Authorities]),
    }
    const facts = {
      spiffe_id: res.svid?.spiffe_id ?? spiffeId,
      serial: res.svid?.serial ?? '',
      expires_at: res.svid?.expires_at ?? 0,
    }
    if (v.write !== undefined) {
      const files = await writeSvidFiles(resolve(v.write), pems)
      printResult(
        ctx.io,
        ctx.format,
        { ...facts, svid_file: files.svid, key_file: files.key, bundle_file: files.bundle },
        () =>
          [
            `X509-SVID written to ${files.svid}`,
            `Private key written to ${files.key}`,
            `Root CAs written to ${files.bundle}`,
            `Expires at ${isoTime(facts.expires_at)}`,
          ].join('\n'),
      )
    } else {
      printResult(
        ctx.io,
        ctx.format,
        { ...facts, svid_pem: pems.svid, key_pem: pems.key, bundle_pem: pems.bundle },
        () => `X509-SVID:\n${pems.svid}\nPrivate key:\n${pems.key}\nRoot CAs:\n${pems.bundle}`,
      )
    }
    return EXIT_OK
  },
})

async function writeSvidFiles(
  dir: string,
  pems: { svid: string; key: string; bundle: string },
): Promise<{ svid: string; key: string; bundle: string }> {
  const [key, svid, bundle] = await writeCredentialFiles(dir, [
    { name: 'key.pem', content: pems.key, mode: 0o600 },
    { name: 'svid.pem', content: pems.svid, mode: 0o644 },
    { name: 'bundle.pem', content: pems.bundle, mode: 0o644 },
  ])
  return { svid: svid as string, key: key as string, bundle: bundle as string }
}
