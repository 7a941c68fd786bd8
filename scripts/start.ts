/**
 * `npm start`: a local Sigil in one command. Starts sigil-server on the embedded SQLite
 * store under ./.sigil/, joins one sigil-agent with a fresh join token (passed in the
 * agent's environment as SIGIL_JOIN_TOKEN, never on its command line), registers an
 * entry for the current user (spiffe://<td>/dev/uid-<uid>, selected by unix:uid:<uid>),
 * prints where everything is, and runs until Ctrl-C (SIGINT or SIGTERM, to this process or
 * its group), stopping both cleanly. It drives the same CLIs a user would. Re-running
 * re-uses the state in ./.sigil/. package.json runs it as `exec node …`, so a signal npm
 * forwards reaches this process rather than the shell in between.
 *
 * Overrides (for busy ports or tests): SIGIL_AGENT_API_ADDRESS,
 * SIGIL_BUNDLE_ENDPOINT_ADDRESS (server), SIGIL_SOCKET_PATH (agent), SIGIL_TRUST_DOMAIN.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join, relative, resolve } from 'node:path'
import {
  AGENT_BIN,
  cli,
  mustCli,
  PACKAGE_ROOT,
  SERVER_BIN,
  daemon as startDaemon,
  stop,
} from './lib/daemons.js'

const packageRoot = PACKAGE_ROOT
const home = resolve('.sigil')
const serverDir = join(home, 'server')
const agentDir = join(home, 'agent')
const adminSocket = join(serverDir, 'private', 'admin.sock')
const trustDomain = process.env.SIGIL_TRUST_DOMAIN ?? 'example.org'
const DEFAULT_SOCKET = '/tmp/sigil-agent/public/api.sock'
const socketPath = resolve(process.env.SIGIL_SOCKET_PATH ?? DEFAULT_SOCKET)
const uid = process.getuid?.() ?? 0

function say(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** Starts a daemon logging to .sigil/NAME.log; resolves the first line matching `ready`. */
function daemon(
  name: string,
  args: string[],
  ready: (entry: Record<string, unknown>) => boolean,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; entry: Record<string, unknown> }> {
  return startDaemon({ name, args, ready, env, logFile: join(home, `${name}.log`) })
}

/** What a listen failure needs beside its reason: how to pick other addresses. */
function listenHint(message: string): string[] {
  if (!/cannot listen|EADDRINUSE|address already in use/.test(message)) return []
  return [
    'Another sigil-server (a second `npm start`?) or another program holds that address.',
    'Stop it, or choose others, e.g.:',
    '  SIGIL_AGENT_API_ADDRESS=127.0.0.1:0 SIGIL_BUNDLE_ENDPOINT_ADDRESS=127.0.0.1:0 \\',
    '  SIGIL_SOCKET_PATH=/tmp/sigil-2/api.sock npm start',
    '(a second instance also needs its own folder: the state is ./.sigil/ of the folder it runs in)',
  ]
}

/** A path as typed from the current folder: relative below it, absolute elsewhere. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel.startsWith('..') || rel === '' ? path : rel
}

/** The commands to try, exactly as the banner prints them (the README shows the same ones). */
function tryCommands(): string[] {
  const socketFlag = socketPath === DEFAULT_SOCKET ? '' : ` --socket-path ${socketPath}`
  const agentCli = shown(join(packageRoot, 'scripts/bin/sigil-agent'))
  const serverCli = shown(join(packageRoot, 'scripts/bin/sigil-server'))
  return [
    `${agentCli} api fetch x509${socketFlag}`,
    `${agentCli} api fetch jwt --audience demo${socketFlag}`,
    `${serverCli} entry show`,
  ]
}

/** The ready banner: where everything is, and what to run next. */
function printBanner(o: {
  agentId: string
  userId: string
  bundleEndpoint: string
  /** The server's `ca_file` when the bundle endpoint uses its development certificate. */
  devCa: string | undefined
}): void {
  const devCa = o.devCa
  const commands = tryCommands()
  if (devCa && o.bundleEndpoint.startsWith('https://')) {
    commands.push(`curl --cacert ${shown(devCa)} ${o.bundleEndpoint}`)
  }
  say('Sigil is running (server + one agent). Logs: .sigil/server.log, .sigil/agent.log')
  say('')
  say(`  trust domain      ${trustDomain}`)
  say(`  agent ID          ${o.agentId}`)
  say(`  your identity     ${o.userId}  (selector unix:uid:${uid})`)
  say(`  Workload API      ${socketPath}`)
  say(`  bundle endpoint   ${o.bundleEndpoint}`)
  if (devCa) say(`  bundle dev CA     ${devCa}  (trust it to verify the endpoint)`)
  say(`  admin socket      ${adminSocket}`)
  say('')
  say(`export SPIFFE_ENDPOINT_SOCKET=unix://${socketPath}`)
  say('')
  say('Try, in another terminal (from this folder):')
  for (const c of commands) say(`  ${c}`)
  say('')
  say('Press Ctrl-C to stop.')
}

async function main(): Promise<void> {
  mkdirSync(home, { recursive: true, mode: 0o700 })
  let server: ChildProcess | undefined
  let agent: ChildProcess | undefined
  let stopping = false
  let devCa: string | undefined
  const shutdown = async (code: number) => {
    if (stopping) return
    stopping = true
    say('\nstopping agent and server…')
    await stop(agent)
    await stop(server)
    say('stopped.')
    process.exit(code)
  }
  process.on('SIGINT', () => void shutdown(0))
  process.on('SIGTERM', () => void shutdown(0))
  try {
    const started = await daemon(
      'server',
      [
        SERVER_BIN,
        'run',
        '--data-dir',
        serverDir,
        '--admin-socket',
        adminSocket,
        '--trust-domain',
        trustDomain,
      ],
      (e) => {
        if (typeof e.ca_file === 'string') devCa = e.ca_file
        return e.msg === 'sigil-server started'
      },
    )
    server = started.child
    server.on('exit', (code) => {
      if (!stopping) {
        say(`sigil-server exited unexpectedly (${code}); see ${join(home, 'server.log')}`)
        void shutdown(1)
      }
    })
    const agentApi = String(started.entry.agent_api)
    const bundleEndpoint = String(started.entry.bundle_endpoint)
    const admin = ['--admin-socket', adminSocket]

    const bundlePath = join(home, 'bundle.pem')
    writeFileSync(bundlePath, await mustCli(SERVER_BIN, ['bundle', 'show', '--format', 'pem', ...admin]))
    const agentId = `spiffe://${trustDomain}/dev/agent/${hostname().replace(/[^a-zA-Z0-9._-]/g, '-')}`
    const token = (await mustCli(SERVER_BIN, ['token', 'generate', '--spiffe-id', agentId, ...admin])).trim()
    const userId = `spiffe://${trustDomain}/dev/uid-${uid}`
    const entry = await cli(SERVER_BIN, [
      'entry',
      'create',
      '--spiffe-id',
      userId,
      '--parent-id',
      agentId,
      '--selector',
      `unix:uid:${uid}`,
      ...admin,
    ])
    if (entry.code !== 0 && !/already exists/.test(entry.stderr)) throw new Error(entry.stderr.trim())

    const joined = await daemon(
      'agent',
      [
        AGENT_BIN,
        'run',
        '--server-address',
        agentApi,
        '--trust-domain',
        trustDomain,
        '--trust-bundle',
        bundlePath,
        '--data-dir',
        agentDir,
        '--socket-path',
        socketPath,
      ],
      (e) => e.msg === 'agent synced with the server',
      // never on the command line, which every local user can read: the agent refuses it there
      { SIGIL_JOIN_TOKEN: token },
    )
    agent = joined.child
    agent.on('exit', (code) => {
      if (!stopping) {
        say(`sigil-agent exited unexpectedly (${code}); see ${join(home, 'agent.log')}`)
        void shutdown(1)
      }
    })
    printBanner({ agentId, userId, bundleEndpoint, devCa })
  } catch (e) {
    say(`npm start failed: ${(e as Error).message}`)
    for (const line of listenHint((e as Error).message)) say(line)
    await shutdown(1)
  }
}

await main()
