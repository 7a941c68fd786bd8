// A tool server for Authorize tests: node:https in this process (an attested workload of the
// test's uid), every request decided by the agent through the SDK's withAuthorization; TLS
// client certificates are requested but not checked here (the agent verifies them). Plus the
// policy set the tests use and an HTTPS client that may present an X509-SVID.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withAuthorization } from '../../sdk/authorize-request.js'

/** The Cedar policy set of the Authorize tests (TD example.org, workload /worker). */
export const AUTHZ_POLICY = `
@id("workers-call-tools")
permit (
  principal == Sigil::Workload::"spiffe://example.org/worker",
  action == Sigil::Action::"CallTool",
  resource
);

@id("no-delete")
forbid (principal, action == Sigil::Action::"CallTool", resource == Sigil::Tool::"delete");

@id("task-scope")
forbid (principal, action == Sigil::Action::"CallTool", resource)
when { context has task && !context.task.scope.contains(resource.name) };

@id("money-needs-approval")
@approval("required")
permit (principal, action == Sigil::Action::"CallTool", resource)
when { ["payments", "wire", "refund", "payroll"].contains(resource.name) };
`

/** A running tool server: `/<tool>` asks Authorize for CallTool on Tool `<tool>`. */
export interface AuthzToolServer {
  readonly port: number
  close(): Promise<void>
}

/** Starts the tool server (TLS with the given server certificate and key). */
export async function startAuthzToolServer(opts: {
  socketPath: string
  cert: string
  key: string
}): Promise<AuthzToolServer> {
  const server = createServer(
    { cert: opts.cert, key: opts.key, requestCert: true, rejectUnauthorized: false },
    withAuthorization(
      (_req, res, d) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({ ok: true, reasons: d.reasons, policy_ids: d.policyIds, spiffe_id: d.spiffeId }),
        )
      },
      (req) => ({
        resource: decodeURIComponent((req.url ?? '/').slice(1).split('?')[0] ?? ''),
        socketPath: opts.socketPath,
        context: { method: req.method ?? 'GET' },
      }),
    ),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** An answer of the tool server. */
export interface ToolAnswer {
  readonly status: number
  readonly body: {
    ok?: boolean
    error?: string
    reasons?: string[]
    policy_ids?: string[]
    spiffe_id?: string
  }
}

/** GET https://127.0.0.1:<port>/<tool> with optional headers and client certificate. */
export function callTool(
  port: number,
  tool: string,
  opts: { headers?: Record<string, string>; cert?: string; key?: string } = {},
): Promise<ToolAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: `/${encodeURIComponent(tool)}`,
        headers: opts.headers ?? {},
        rejectUnauthorized: false,
        agent: false,
        ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
      },
      (res) => {
        let body = ''
        res.on('data', (d: Buffer) => {
          body += d.toString()
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body || '{}') }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** Writes `text` as a policy file in a temp dir (removed at teardown) and returns its path. */
export function writePolicyFile(t: { teardown(fn: () => void): void }, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sigil-pol-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'policy.cedar')
  writeFileSync(path, text)
  return path
}
