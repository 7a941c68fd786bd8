/**
 * `sigil-server wit mint`: see ../wit.ts. A P-256 key is generated here; only its public JWK
 * goes to the server. Prints the WIT-SVID and the private key as a JWK (a secret: the same form
 * as the Workload API's `wit_svid_key`); with `--write DIR` writes `wit.jwt` (0644) and
 * `wit-key.jwk` (0600) instead and prints their paths.
 */
import { resolve } from 'node:path'
import { generateKeyPair } from '../../../../certs/keys/keys.js'
import { confirmationJwk, privateKeyToJwkString } from '../../../../certs/witsvid/confirmation-key.js'
import { parseWitSvidInsecure } from '../../../../certs/witsvid/validate-wit-svid.js'
import { EXIT_OK } from '../../../../common/cli/cli-io.js'
import { adminVerb, printResult } from '../../admin-verb.js'
import { spiffeIdFlag, ttlFlag } from '../../flag-values.js'
import { isoTime } from '../../format-records.js'
import { writeCredentialFiles } from '../../write-credential-files.js'

/** Runs the verb. */
export const run = adminVerb({
  usage: 'sigil-server wit mint',
  description:
    'Mints a WIT-SVID for --spiffe-id bound to a key generated here (P-256, ES256); only the public key is sent to the server.',
  options: (j) =>
    j.opt({
      'spiffe-id': { hint: 'id', description: 'The sub claim (required)' },
      ttl: { hint: 'duration', description: 'Lifetime, e.g. 1h (default: the server X509-SVID setting)' },
      write: { hint: 'dir', description: 'Write wit.jwt and wit-key.jwk (0600) into this directory' },
    }),
  required: ['spiffe-id'],
  run: async (v, ctx) => {
    const spiffeId = spiffeIdFlag(v['spiffe-id'] ?? '', '--spiffe-id')
    const ttl = v.ttl === undefined ? 0 : ttlFlag(v.ttl, '--ttl')
    const keys = await generateKeyPair('ec-p256')
    const res = await ctx.admin().call('MintWitSvid', {
      spiffe_id: spiffeId,
      public_key_jwk: JSON.stringify(confirmationJwk(keys.publicKey)),
      ttl,
    })
    if (!parseWitSvidInsecure(res.token).confirmationKey.equals(keys.publicKey)) {
      throw new Error('the server returned a WIT-SVID that does not hold the generated key')
    }
    const keyJwk = privateKeyToJwkString(keys.privateKey)
    const facts = { spiffe_id: spiffeId, jti: res.jti, issued_at: res.issued_at, expires_at: res.expires_at }
    if (v.write !== undefined) {
      const [witFile, keyFile] = await writeCredentialFiles(resolve(v.write), [
        { name: 'wit.jwt', content: `${res.token}\n`, mode: 0o644 },
        { name: 'wit-key.jwk', content: `${keyJwk}\n`, mode: 0o600 },
      ])
      printResult(ctx.io, ctx.format, { ...facts, wit_file: witFile, key_file: keyFile }, () =>
        [
          `WIT-SVID written to ${witFile}`,
          `Private key (JWK) written to ${keyFile}`,
          `Expires at ${isoTime(res.expires_at)}`,
        ].join('\n'),
      )
    } else {
      printResult(
        ctx.io,
        ctx.format,
        { ...facts, wit_svid: res.token, wit_svid_key: JSON.parse(keyJwk) },
        () => `WIT-SVID:\n${res.token}\nPrivate key (JWK):\n${keyJwk}`,
      )
    }
    return EXIT_OK
  },
})
