// Tokens on a command line (issue 11): every local user can read a process's argv through
// /proc/<pid>/cmdline, so `sigil-agent api validate jwt` refuses a JWT-SVID given as
// `--svid TOKEN` and takes it from a file (--svid-file) or stdin (--svid -) instead.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { cli } from '../agent/cli/cli-io.js'

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZy93ZWIifQ.c2lnbmF0dXJl'

// Attack: a JWT-SVID passed as `--svid TOKEN` is readable by any local user in /proc/<pid>/cmdline.
t.test(
  'a JWT-SVID given in argv is refused with exit 2, never echoed, naming the alternatives',
  async (t) => {
    for (const args of [
      ['api', 'validate', 'jwt', '--audience', 'db', '--svid', TOKEN],
      ['api', 'validate', 'jwt', '--audience', 'db', `--svid=${TOKEN}`],
    ]) {
      const r = await cli([...args, '--socket-path', '/nonexistent/agent.sock'])
      t.equal(r.code, 2)
      t.match(r.stderr, /refused.*--svid-file.*--svid -/)
      t.notMatch(r.stderr, TOKEN.slice(0, 20), 'the token is not repeated')
      t.equal(r.stdout, '')
    }
  },
)

t.test(
  'the token is read from --svid-file or stdin instead (reaching the socket, not refused)',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sigil-token-argv-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'token')
    writeFileSync(file, `${TOKEN}\n`, { mode: 0o600 })
    const missing = join(dir, 'agent.sock')
    const fromFile = await cli([
      'api',
      'validate',
      'jwt',
      '--audience',
      'db',
      '--svid-file',
      file,
      '--socket-path',
      missing,
    ])
    t.equal(fromFile.code, 1, 'past the argument checks: the (absent) agent is unreachable')
    t.match(fromFile.stderr, /cannot reach the Workload API/)
    const fromStdin = await cli(
      ['api', 'validate', 'jwt', '--audience', 'db', '--svid', '-', '--socket-path', missing],
      {
        stdin: TOKEN,
      },
    )
    t.equal(fromStdin.code, 1)
    t.match(fromStdin.stderr, /cannot reach the Workload API/)
    const neither = await cli(['api', 'validate', 'jwt', '--audience', 'db', '--socket-path', missing])
    t.equal(neither.code, 2, 'no token at all is a usage error')
    t.match(neither.stderr, /--svid-file <file> or --svid - \(stdin\) is required/)
  },
)
