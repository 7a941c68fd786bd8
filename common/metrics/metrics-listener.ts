/**
 * The operators' listener of both daemons (`--metrics-address`): plain HTTP serving
 * `GET /metrics` (Prometheus text format from the daemon's own prom-client Registry),
 * `GET /live` (200 while the process runs) and `GET /ready` (200, or 503 with a short reason
 * from the daemon's readiness check). Anything else is 404; another method on a known path is 405.
 *
 * Trust: nothing served here is secret (counts, latencies, key expiry times; no SPIFFE IDs,
 * keys or tokens), so the listener binds where it is told, like SPIRE's telemetry; a
 * non-loopback address is allowed and logged once as a warning (put it behind the network
 * policy that guards your Prometheus). It reads no request body and answers nothing else.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { type HostPort, isLoopbackHost } from '../config/host-port.js'
import { errorText } from '../errors/error-text.js'
import type { Log } from '../logging/logger.js'

/** The daemon's answer to `GET /ready`: undefined when ready, else a short reason (no secrets). */
export type ReadinessCheck = () => Promise<string | undefined>

/** How long `/ready` waits for the readiness check before answering 503. */
export const READY_TIMEOUT_MS = 2_000

/** Options of {@link startMetricsListener}. */
export interface MetricsListenerOptions {
  readonly address: HostPort
  readonly registry: Registry
  readonly ready: ReadinessCheck
  readonly logger: Log
  /** Deadline of the readiness check; default {@link READY_TIMEOUT_MS}. */
  readonly readyTimeoutMs?: number
}

/** A started listener. */
export interface MetricsListener {
  readonly port: number
  close(): Promise<void>
}

const ROUTES = new Set(['/metrics', '/live', '/ready'])

/**
 * Starts the listener; resolves once it is bound (port 0 picks a free port).
 *
 * @example
 * const listener = await startMetricsListener({ address: { host: '127.0.0.1', port: 9988 }, registry,
 *   ready: async () => undefined, logger })
 */
export async function startMetricsListener(opts: MetricsListenerOptions): Promise<MetricsListener> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? READY_TIMEOUT_MS
  const server = createServer((req, res) => {
    void handle(req, res, opts, readyTimeoutMs).catch((err) => {
      opts.logger.warn({ err: errorText(err) }, 'metrics listener: request failed')
      if (!res.headersSent) send(res, 500, 'internal error\n')
      else res.destroy()
    })
  })
  server.headersTimeout = 10_000
  server.requestTimeout = 10_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.address.port, opts.address.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  if (!isLoopbackHost(opts.address.host)) {
    opts.logger.warn(
      { metrics_address: `${opts.address.host}:${port}` },
      'the metrics listener is reachable from the network (plain HTTP, no authentication; it serves no secrets)',
    )
  }
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  opts: MetricsListenerOptions,
  readyTimeoutMs: number,
): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0] as string
  if (!ROUTES.has(path)) return send(res, 404, 'not found\n')
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD')
    return send(res, 405, 'method not allowed\n')
  }
  if (path === '/live') return send(res, 200, 'ok\n')
  if (path === '/ready') {
    const reason = await withDeadline(opts.ready, readyTimeoutMs)
    return reason === undefined ? send(res, 200, 'ready\n') : send(res, 503, `not ready: ${reason}\n`)
  }
  const body = await opts.registry.metrics()
  send(res, 200, body, opts.registry.contentType)
}

/** The check's reason, its error as a reason, or a timeout reason; never throws. */
async function withDeadline(check: ReadinessCheck, ms: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`readiness check timed out after ${ms} ms`), ms)
  })
  try {
    return await Promise.race([check().catch((err) => `readiness check failed: ${errorText(err)}`), timeout])
  } finally {
    clearTimeout(timer)
  }
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  // one request per connection: probes and scrapes come seconds apart, and a kept-alive socket
  // closed by its idle timeout just as the client reuses it would fail that request
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', Connection: 'close' })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}
