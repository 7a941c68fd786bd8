// A real workload process that holds WIT-SVIDs through the SDK (dist/sdk) on an agent socket:
// it keeps a WITSource and answers one JSON request per stdin line ({ id, op, ... }) with one JSON
// line ({ id, ok: true, ... } or { id, ok: false, code, message }). Ops: headers { audience,
// nowMs?, witForWth? } (the request headers from workloadRequestHeaders, or with the wth of
// another WIT), wit (the current WIT-SVID token and when it expires; its key never leaves).
import { type ScriptWorkload, startScriptWorkload } from './script-workload.js'

const SCRIPT = `import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
const [root, socket] = process.argv.slice(2)
const sdk = await import(pathToFileURL(root + '/dist/sdk/index.js').href)
const wits = await sdk.WITSource.create({ socketPath: socket })
const print = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
async function handle(req) {
  const wit = wits.getWitSvid()
  if (req.op === 'wit') return { token: wit.token, spiffeId: String(wit.spiffeId), expiresAt: wit.expiresAt.getTime(), hint: wit.hint }
  if (req.op === 'headers') {
    const now = req.nowMs === undefined ? undefined : new Date(req.nowMs)
    if (req.witForWth !== undefined) {
      const wpt = sdk.createWorkloadProofToken({ wit: req.witForWth, privateKey: wit.privateKey, audience: req.audience, ...(now ? { now } : {}) })
      return { headers: { 'Workload-Identity-Token': wit.token, 'Workload-Proof-Token': wpt } }
    }
    return { headers: sdk.workloadRequestHeaders(wit, { audience: req.audience, ...(now ? { now } : {}), ...(req.txnToken ? { txnToken: req.txnToken } : {}) }) }
  }
  throw new Error('unknown op ' + req.op)
}
print({ ready: true, pid: process.pid })
createInterface({ input: process.stdin })
  .on('line', (line) => {
    const req = JSON.parse(line)
    handle(req).then(
      (r) => print({ id: req.id, ok: true, ...r }),
      (e) => print({ id: req.id, ok: false, code: e.code, message: String(e.message) }),
    )
  })
  .on('close', () => { wits.close(); process.exit(0) })
`

/** A running WIT workload. */
export type WitWorkload = ScriptWorkload

/** Writes the script (0644) into `dir` as `name` and starts it; killed at teardown. */
export function startWitWorkload(
  t: { teardown(fn: () => unknown): void },
  opts: { dir: string; socketPath: string; name?: string },
): Promise<WitWorkload> {
  return startScriptWorkload(t, { ...opts, name: opts.name ?? 'wit-workload.mjs', source: SCRIPT })
}
