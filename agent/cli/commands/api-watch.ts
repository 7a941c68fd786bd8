/**
 * `sigil-agent api watch`: keeps a FetchX509SVID stream open and prints every update (SPIFFE
 * IDs, serials, expiry) until interrupted (SIGINT/SIGTERM), one block per update, or one JSON
 * line per update with `--output json`. Exit 0 when interrupted, 1 when the stream fails.
 */
import { apiOptions, commonApiSettings, parseOptions } from '../api-options.js'
import { reportFailure, x509SvidFacts } from '../cli-output.js'
import { type CliIo, EXIT_OK } from '../run-cli.js'
import { terminationSignal } from '../termination.js'
import { WorkloadClient } from '../workload-client.js'

/** This command's option table. */
export function watchOptions() {
  return apiOptions('sigil-agent api watch [options]', 'Prints every X509-SVID update until interrupted.')
}

/** Runs the command. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const table = watchOptions()
  const { values } = parseOptions(() => table.parse(args))
  if (values.help) {
    io.stdout.write(`${table.usage()}\n`)
    return EXIT_OK
  }
  const settings = commonApiSettings(values, io.env)
  const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
  const { signal, dispose } = terminationSignal(io)
  let updates = 0
  try {
    await client.watchX509((msg) => {
      updates++
      const svids = msg.svids.map(x509SvidFacts)
      const at = new Date().toISOString()
      if (settings.json) {
        const line = {
          received_at: at,
          svids: svids.map((s) => ({
            spiffe_id: s.spiffeId,
            hint: s.hint,
            serial: s.serial,
            not_before: s.notBefore.toISOString(),
            not_after: s.notAfter.toISOString(),
          })),
          federated_bundles: Object.keys(msg.federated_bundles).sort(),
        }
        io.stdout.write(`${JSON.stringify(line)}\n`)
        return
      }
      let text = `Update #${updates} at ${at}: ${svids.length} SVID${svids.length === 1 ? '' : 's'}\n`
      for (const s of svids) {
        text += `  ${s.spiffeId}  serial ${s.serial}  expires ${s.notAfter.toISOString()}\n`
      }
      io.stdout.write(text)
    }, signal)
    return EXIT_OK
  } catch (err) {
    return reportFailure(io, 'api watch', err, settings.socketPath)
  } finally {
    dispose()
    client.close()
  }
}
