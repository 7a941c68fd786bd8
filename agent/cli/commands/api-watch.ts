/**
 * `sigil-agent api watch`: keeps a FetchX509SVID stream open and prints every update (SPIFFE
 * IDs, serials, expiry) until interrupted (SIGINT/SIGTERM) or, with `--timeout`, until that
 * long has passed; one block per update, or one JSON document per update with `--output json`.
 * Exit 0 when interrupted or timed out, 1 when the stream fails.
 */
import { type CliIo, EXIT_OK } from '../../../common/cli/cli-io.js'
import { defineVerb } from '../../../common/cli/define-verb.js'
import { printJson } from '../../../common/cli/print-json.js'
import { terminationSignal } from '../../../common/cli/termination-signal.js'
import { commonApiSettings, timeoutMs, withApiOptions } from '../api-options.js'
import { reportFailure, x509SvidFacts } from '../cli-output.js'
import { WorkloadClient } from '../workload-client.js'

/** Runs the command. */
export const run = defineVerb({
  usage: 'sigil-agent api watch [options]',
  description: 'Prints every X509-SVID update until interrupted (or until --timeout has passed).',
  options: (j) =>
    withApiOptions(j, 'Stop watching after this long, exit 0 (e.g. 30s; default: until interrupted)'),
  run: watch,
})

async function watch(
  values: { 'socket-path'?: string | undefined; timeout?: string | undefined; output?: string | undefined },
  io: CliIo,
): Promise<number> {
  const settings = commonApiSettings(values, io.env)
  const client = new WorkloadClient(settings.socketPath, settings.timeoutMs)
  const terminated = terminationSignal(io)
  const dispose = terminated.dispose
  const signal =
    values.timeout === undefined
      ? terminated.signal
      : AbortSignal.any([terminated.signal, AbortSignal.timeout(timeoutMs(values.timeout))])
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
        printJson(io, line)
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
