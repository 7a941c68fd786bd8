/**
 * `sigil-agent api fetch x509 [--write DIR]`: fetches this process's X509-SVIDs (the first
 * FetchX509SVID message) and prints them; with `--write`, writes for SVID number i
 * `svid.<i>.pem` (leaf first, then intermediates), `svid.<i>.key` (PKCS#8, 0600) and
 * `bundle.<i>.pem` (the CA certificates of its trust domain).
 */
import { join, resolve } from 'node:path'
import { pemBlock } from '../../../certs/bundle/pem-bundle.js'
import { splitConcatenatedDer } from '../../../certs/x509svid/parse-x509-svid.js'
import { certificatesToPem } from '../../../certs/x509svid/pem.js'
import { type CliIo, EXIT_OK } from '../../../common/cli/cli-io.js'
import { defineVerb } from '../../../common/cli/define-verb.js'
import { printJson } from '../../../common/cli/print-json.js'
import { commonApiSettings, withApiOptions } from '../api-options.js'
import { reportFailure, writeFileAtomic, x509SvidFacts } from '../cli-output.js'
import { WorkloadClient } from '../workload-client.js'

/** Runs the command. */
export const run = defineVerb({
  usage: 'sigil-agent api fetch x509 [options]',
  description: 'Fetches the X509-SVIDs the agent issues to this process.',
  options: (j) =>
    withApiOptions(j).opt({
      write: {
        hint: 'dir',
        description:
          'Write svid.<i>.pem, svid.<i>.key (0600) and bundle.<i>.pem for each SVID into this directory',
      },
    }),
  run: fetchX509,
})

async function fetchX509(
  values: {
    'socket-path'?: string | undefined
    timeout?: string | undefined
    output?: string | undefined
    write?: string | undefined
  },
  io: CliIo,
): Promise<number> {
  const settings = commonApiSettings(values, io.env)
  const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
  const started = performance.now()
  let response: Awaited<ReturnType<WorkloadClient['fetchX509']>>
  try {
    response = await client.fetchX509()
  } catch (err) {
    return reportFailure(io, 'api fetch x509', err, settings.socketPath)
  } finally {
    client.close()
  }
  const elapsedMs = performance.now() - started
  const svids = response.svids.map((s) => ({ facts: x509SvidFacts(s), key: s.x509_svid_key }))
  const files: { svid: string; key: string; bundle: string }[] = []
  if (values.write) {
    const dir = resolve(values.write)
    for (const [i, { facts, key }] of svids.entries()) {
      const paths = {
        svid: join(dir, `svid.${i}.pem`),
        key: join(dir, `svid.${i}.key`),
        bundle: join(dir, `bundle.${i}.pem`),
      }
      await writeFileAtomic(paths.svid, certificatesToPem(facts.chain), 0o644)
      await writeFileAtomic(paths.key, pemBlock('PRIVATE KEY', key), 0o600)
      await writeFileAtomic(paths.bundle, certificatesToPem(facts.bundle), 0o644)
      files.push(paths)
    }
  }
  if (settings.json) {
    const out = {
      svids: svids.map(({ facts }, i) => ({
        spiffe_id: facts.spiffeId,
        hint: facts.hint,
        serial: facts.serial,
        not_before: facts.notBefore.toISOString(),
        not_after: facts.notAfter.toISOString(),
        x509_svid: certificatesToPem(facts.chain),
        bundle: certificatesToPem(facts.bundle),
        ...(files[i] ? { files: files[i] } : {}),
      })),
      federated_bundles: Object.fromEntries(
        Object.entries(response.federated_bundles).map(([td, der]) => [
          td,
          certificatesToPem(splitConcatenatedDer(der)),
        ]),
      ),
    }
    printJson(io, out)
    return EXIT_OK
  }
  let text = `Received ${svids.length} svid${svids.length === 1 ? '' : 's'} after ${elapsedMs.toFixed(1)}ms\n`
  for (const [i, { facts }] of svids.entries()) {
    text += `\nSPIFFE ID:         ${facts.spiffeId}\n`
    if (facts.hint) text += `Hint:              ${facts.hint}\n`
    text += `Serial:            ${facts.serial}\n`
    text += `SVID Valid After:  ${facts.notBefore.toISOString()}\n`
    text += `SVID Valid Until:  ${facts.notAfter.toISOString()}\n`
    text += `Intermediates:     ${facts.chain.length - 1}\n`
    text += `CA certificates:   ${facts.bundle.length}\n`
    const written = files[i]
    if (written) {
      text += `Writing SVID #${i} to file ${written.svid}.\n`
      text += `Writing key #${i} to file ${written.key}.\n`
      text += `Writing bundle #${i} to file ${written.bundle}.\n`
    }
  }
  const federated = Object.keys(response.federated_bundles)
  if (federated.length) text += `\nFederated bundles: ${federated.sort().join(', ')}\n`
  io.stdout.write(text)
  return EXIT_OK
}
