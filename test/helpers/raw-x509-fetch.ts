/**
 * A dependency-free Workload API client for attack tests: a small ES module (run with plain
 * `node`, no grpc-js, readable by any uid) that sends one FetchX509SVID over raw HTTP/2 — on an
 * inherited socket descriptor (`SIGIL_ATTACK_FD`) or on the agent's socket path
 * (`SIGIL_ATTACK_SOCKET`) — and prints one JSON line: the gRPC status (`null` while the stream is
 * open, i.e. an answer came) and, for each X509-SVID of the first message, its SPIFFE ID and
 * whether a private key came with it. With `SIGIL_ATTACK_WAIT_EUID0=<pid>` it first waits until
 * that process runs with effective uid 0, then waits `SIGIL_ATTACK_DELAY_MS` more.
 */
import { chmodSync, writeFileSync } from 'node:fs'

/** What the client prints. */
export interface RawFetchResult {
  /** `grpc-status` of a refused call; `null` when a message came (the stream stays open). */
  readonly status: number | null
  readonly svids?: readonly { readonly spiffe_id: string; readonly has_key: boolean }[]
  /** Effective uid of the watched process when the call was made (SIGIL_ATTACK_WAIT_EUID0). */
  readonly watched_euid?: number
  readonly error?: string
}

const SOURCE = `import http2 from 'node:http2'
import net from 'node:net'
import { readFileSync } from 'node:fs'
const env = process.env
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const euidOf = (pid) => {
  try {
    const line = readFileSync('/proc/' + pid + '/status', 'utf8').split('\\n').find((l) => l.startsWith('Uid:'))
    return Number(line.split(/\\s+/)[2])
  } catch { return -1 }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
let watched
if (env.SIGIL_ATTACK_WAIT_EUID0) {
  const deadline = Date.now() + 10000
  while (euidOf(env.SIGIL_ATTACK_WAIT_EUID0) !== 0 && Date.now() < deadline) await sleep(10)
  await sleep(Number(env.SIGIL_ATTACK_DELAY_MS ?? 0))
  watched = euidOf(env.SIGIL_ATTACK_WAIT_EUID0)
}
// Minimal protobuf reading: X509SVIDResponse.svids (1) -> X509SVID.spiffe_id (1), x509_svid_key (3).
function varint(b, i) { let v = 0, s = 0; for (;;) { const x = b[i++]; v += (x & 0x7f) * 2 ** s; s += 7; if (x < 0x80) return [v, i] } }
function fields(b) {
  const f = []
  for (let i = 0; i < b.length;) {
    let tag; [tag, i] = varint(b, i)
    const wire = tag & 7
    if (wire === 0) { let v; [v, i] = varint(b, i); f.push([tag >> 3, v]) }
    else if (wire === 2) { let n; [n, i] = varint(b, i); f.push([tag >> 3, b.subarray(i, i + n)]); i += n }
    else throw new Error('unexpected wire type ' + wire)
  }
  return f
}
function svidsOf(msg) {
  return fields(msg).filter(([n]) => n === 1).map(([, s]) => {
    const f = fields(s)
    const id = f.find(([n]) => n === 1)
    const key = f.find(([n]) => n === 3)
    return { spiffe_id: id ? Buffer.from(id[1]).toString() : '', has_key: key !== undefined && key[1].length > 0 }
  })
}
const result = await new Promise((resolve) => {
  const session = http2.connect('http://localhost', {
    createConnection: () => env.SIGIL_ATTACK_FD !== undefined
      ? new net.Socket({ fd: Number(env.SIGIL_ATTACK_FD), readable: true, writable: true })
      : net.connect(env.SIGIL_ATTACK_SOCKET),
  })
  const timer = setTimeout(() => resolve({ status: -1, error: 'no answer within 10 s' }), 10000)
  const done = (r) => { clearTimeout(timer); resolve(r); session.destroy() }
  session.on('error', (e) => done({ status: -1, error: e.message }))
  const req = session.request({
    ':method': 'POST', ':path': '/SpiffeWorkloadAPI/FetchX509SVID',
    'content-type': 'application/grpc', te: 'trailers', 'workload.spiffe.io': 'true',
  })
  let buf = Buffer.alloc(0)
  let headers = {}
  req.on('response', (h) => { headers = h })
  req.on('data', (c) => {
    buf = Buffer.concat([buf, c])
    if (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) done({ status: null, svids: svidsOf(buf.subarray(5, 5 + buf.readUInt32BE(1))) })
  })
  req.on('trailers', (t) => done({ status: Number(t['grpc-status']) }))
  req.on('close', () => done({ status: headers['grpc-status'] === undefined ? -1 : Number(headers['grpc-status']) }))
  req.on('error', (e) => done({ status: -1, error: e.message }))
  req.end(Buffer.from([0, 0, 0, 0, 0]))
})
out({ ...result, ...(watched === undefined ? {} : { watched_euid: watched }) })
`

/**
 * Writes the client as `path` (mode 0644, so any uid can run or import it); returns `path`.
 *
 * @example
 * const client = writeRawX509Fetch(join(dir, 'fetch.mjs'))
 */
export function writeRawX509Fetch(path: string, mode = 0o644): string {
  writeFileSync(path, SOURCE, { mode })
  chmodSync(path, mode)
  return path
}

/** The last JSON line a client printed, or an error result naming what it printed instead. */
export function parseRawFetchOutput(stdout: string): RawFetchResult {
  const lines = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
  const last = lines.at(-1)
  if (last === undefined) return { status: -1, error: `no result line; output: ${stdout.slice(0, 500)}` }
  return JSON.parse(last) as RawFetchResult
}
