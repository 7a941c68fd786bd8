// The operators' listener: /metrics in Prometheus text format from the daemon's own Registry,
// /live, /ready with the daemon's reason, 404 for other paths, 405 for other methods, and a
// readiness check that throws or hangs answers 503 rather than breaking the listener.
import { request } from 'node:http'
import { Counter, Registry } from 'prom-client'
import t, { type Test } from 'tap'
import type { Log } from '../../../common/logging/logger.js'
import { startMetricsListener } from '../../../common/metrics/metrics-listener.js'

interface Reply {
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
}

function call(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

const silent: Log = { debug() {}, info() {}, warn() {}, error() {} }

async function listener(
  t: Test,
  ready: () => Promise<string | undefined>,
  extra: { readyTimeoutMs?: number; logger?: Log; host?: string } = {},
) {
  const registry = new Registry()
  const counter = new Counter({ name: 'sigil_test_total', help: 'a test counter', registers: [registry] })
  const l = await startMetricsListener({
    address: { host: extra.host ?? '127.0.0.1', port: 0 },
    registry,
    ready,
    logger: extra.logger ?? silent,
    ...(extra.readyTimeoutMs ? { readyTimeoutMs: extra.readyTimeoutMs } : {}),
  })
  t.teardown(() => l.close())
  return { port: l.port, counter }
}

t.test('GET /metrics serves the registry in Prometheus text format; counters move', async (t) => {
  const { port, counter } = await listener(t, async () => undefined)
  const first = await call(port, '/metrics')
  t.equal(first.status, 200)
  t.match(first.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(
    first.body,
    /# HELP sigil_test_total a test counter\n# TYPE sigil_test_total counter\nsigil_test_total 0\n/,
  )
  t.notMatch(first.body, /process_cpu|nodejs_/, 'only the daemon registry, not the global default metrics')
  counter.inc(3)
  t.match((await call(port, '/metrics?x=1')).body, /sigil_test_total 3\n/)
})

t.test('/live is 200; /ready is 200 or 503 with the reason', async (t) => {
  let reason: string | undefined = 'datastore unreachable (ERR_UNAVAILABLE)'
  const { port } = await listener(t, async () => reason)
  t.equal((await call(port, '/live')).status, 200)
  const down = await call(port, '/ready')
  t.equal(down.status, 503)
  t.equal(down.body, 'not ready: datastore unreachable (ERR_UNAVAILABLE)\n')
  reason = undefined
  const up = await call(port, '/ready')
  t.equal(up.status, 200)
  t.equal(up.body, 'ready\n')
  t.equal((await call(port, '/ready', 'HEAD')).status, 200)
})

t.test('a readiness check that throws or hangs answers 503; the listener keeps serving', async (t) => {
  const throwing = await listener(t, async () => {
    throw new Error('boom')
  })
  const r = await call(throwing.port, '/ready')
  t.equal(r.status, 503)
  t.match(r.body, /^not ready: readiness check failed: boom/)
  const hanging = await listener(t, () => new Promise(() => {}), { readyTimeoutMs: 50 })
  const h = await call(hanging.port, '/ready')
  t.equal(h.status, 503)
  t.equal(h.body, 'not ready: readiness check timed out after 50 ms\n')
  t.equal((await call(hanging.port, '/live')).status, 200)
})

t.test('other paths are 404, other methods 405 with Allow', async (t) => {
  const { port } = await listener(t, async () => undefined)
  for (const path of ['/', '/metrics/', '/debug', '/../metrics', '/readyz']) {
    t.equal((await call(port, path)).status, 404, path)
  }
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await call(port, '/metrics', method)
    t.equal(r.status, 405, method)
    t.equal(r.headers.allow, 'GET, HEAD')
  }
})

t.test('a non-loopback address is allowed and warned about once', async (t) => {
  const warnings: string[] = []
  const logger = { ...silent, warn: (_o: object, msg: string) => void warnings.push(msg) }
  const { port } = await listener(t, async () => undefined, { host: '0.0.0.0', logger })
  t.equal((await call(port, '/live')).status, 200)
  t.equal(warnings.length, 1)
  t.match(warnings[0], /reachable from the network/)
  const quiet: string[] = []
  await listener(t, async () => undefined, {
    logger: { ...silent, warn: (_o: object, m: string) => void quiet.push(m) },
  })
  t.same(quiet, [])
})
