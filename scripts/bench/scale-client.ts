/**
 * `node dist/scripts/bench/scale-client.js SOCKET EXPECTED`: one workload of the scale
 * benchmark (run under its own uid). Prints `{"ready":true}`, waits for "go" on stdin, then
 * holds one FetchX509SVID stream open (reopened after an error) and checks every SVID that
 * reaches it: an SVID is LATE if it arrived, or is still the newest one held, with less than
 * 10% of its lifetime (notAfter - notBefore) left; an identity missing from a later message
 * (each message is a complete snapshot) counts as WITHDRAWN. Prints `{"complete":true}` the first time
 * a message carries EXPECTED SVIDs; answers "report" with its counts; exits when stdin closes.
 */
import { X509Certificate } from 'node:crypto'
import { createInterface } from 'node:readline'
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js'
import { splitConcatenatedDer } from '../../certs/x509svid/parse-x509-svid.js'
import type { X509SVIDResponse__Output } from '../../proto/generated/X509SVIDResponse.js'
import { loadWorkloadApi } from '../../proto/loader.js'

const [socketPath, expectedArg] = process.argv.slice(2)
const expected = Number(expectedArg)
const LATE_FRACTION = 0.1

interface Held {
  readonly serial: string
  readonly notBefore: number
  readonly notAfter: number
}

const api = loadWorkloadApi()
const client = new api.Client(`unix:${socketPath}`, credentials.createInsecure(), {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
})
const metadata = new Metadata()
metadata.set('workload.spiffe.io', 'true')

const seen = new Map<string, Held>() // by leaf DER (base64)
const current = new Map<string, Held>() // by SPIFFE ID
const late = new Set<string>() // serials
let lateOnArrival = 0
let staleHeld = 0
let withdrawn = 0
let messages = 0
let received = 0
let errors = 0
let complete = false
let maxInMessage = 0
let lastError = ''

const print = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`)

function isLate(h: Held, now: number): boolean {
  return h.notAfter - now < LATE_FRACTION * (h.notAfter - h.notBefore)
}

function onMessage(msg: X509SVIDResponse__Output): void {
  const now = Date.now()
  messages++
  const before = new Set(current.keys())
  current.clear()
  for (const s of msg.svids) {
    const key = Buffer.from(s.x509_svid).toString('base64')
    let held = seen.get(key)
    if (held === undefined) {
      const leaf = new X509Certificate(splitConcatenatedDer(Buffer.from(s.x509_svid))[0] as Buffer)
      held = {
        serial: leaf.serialNumber,
        notBefore: Date.parse(leaf.validFrom),
        notAfter: Date.parse(leaf.validTo),
      }
      seen.set(key, held)
      received++
      if (isLate(held, now) && !late.has(held.serial)) {
        late.add(held.serial)
        lateOnArrival++
      }
    }
    current.set(s.spiffe_id, held)
    before.delete(s.spiffe_id)
  }
  // Each message is a complete snapshot: an identity missing from it was taken away.
  withdrawn += before.size
  maxInMessage = Math.max(maxInMessage, msg.svids.length)
  if (!complete && msg.svids.length >= expected) {
    complete = true
    print({ complete: true, at: now })
  }
}

function open(): void {
  const call = client.FetchX509SVID({}, metadata)
  call.on('data', onMessage)
  call.on('error', (err: ServiceError) => {
    errors++
    lastError = `${err.code}: ${err.details}`
    setTimeout(open, 1000)
  })
}

setInterval(() => {
  const now = Date.now()
  for (const [key, held] of seen) if (held.notAfter < now - 60_000) seen.delete(key)
  for (const held of current.values()) {
    if (isLate(held, now) && !late.has(held.serial)) {
      late.add(held.serial)
      staleHeld++
    }
  }
}, 1000).unref()

createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line === 'go') open()
    else if (line === 'report')
      print({
        report: {
          messages,
          received,
          lateOnArrival,
          staleHeld,
          withdrawn,
          errors,
          lastError,
          held: current.size,
          maxInMessage,
        },
      })
  })
  .on('close', () => {
    client.close()
    process.exit(0)
  })

print({ ready: true })
