// The README's "Give your service an identity" examples (scripts/examples/), run against
// the real sigil-server and sigil-agent processes, and kept verbatim in README.md.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { bearerFor, callerOf } from '../../scripts/examples/jwt-bearer.js'
import { callHelloService, startHelloService } from '../../scripts/examples/mtls-service.js'
import { beginTaskFor, describeTaskRequest } from '../../scripts/examples/task-call.js'
import { JWTSource } from '../../sdk/index.js'
import { startSigilNode } from '../helpers/agent-process.js'
import { ROOT } from '../helpers/server-process.js'

const SERVICE = 'spiffe://example.org/hello'
const CALLER = 'spiffe://example.org/caller'
const TOOL = 'spiffe://example.org/tool-api'
const uid = process.getuid?.() ?? 0

t.test('README shows the examples as they are in scripts/examples/', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  for (const file of ['mtls-service.ts', 'jwt-bearer.ts', 'task-call.ts']) {
    const source = readFileSync(join(ROOT, 'scripts/examples', file), 'utf8').replace(
      "'../../sdk/index.js'",
      "'sigil/sdk'",
    )
    t.ok(readme.includes(source), `README includes scripts/examples/${file} (with 'sigil/sdk' imports)`)
  }
})

t.test('the examples work against a real agent', async (t) => {
  const node = await startSigilNode(t)
  await node.createEntry(SERVICE, [`unix:uid:${uid}`], ['--task-scope', TOOL])
  await node.createEntry(CALLER, [`unix:uid:${uid}`], ['--task-scope', TOOL])
  process.env.SPIFFE_ENDPOINT_SOCKET = `unix://${node.agent.socketPath}`
  t.teardown(() => {
    delete process.env.SPIFFE_ENDPOINT_SOCKET
  })

  const hello = await startHelloService(CALLER, SERVICE)
  t.teardown(() => hello.close())
  hello.server.listen(0, '127.0.0.1')
  await once(hello.server, 'listening')
  const url = `https://127.0.0.1:${(hello.server.address() as AddressInfo).port}/`
  t.equal(await callHelloService(url, SERVICE, CALLER), `hello, ${CALLER}\n`)
  await t.rejects(
    callHelloService(url, 'spiffe://example.org/someone-else', CALLER),
    'client refuses a wrong server ID',
  )
  await t.rejects(callHelloService(url, SERVICE, SERVICE), 'service refuses a caller it does not allow')

  const header = await bearerFor('tool-api')
  const jwt = await JWTSource.create({})
  t.teardown(() => jwt.close())
  t.match(await callerOf(jwt, header, 'tool-api'), /^spiffe:\/\/example\.org\/(hello|caller)$/)
  await t.rejects(callerOf(jwt, header, 'other-api'), { code: 'ERR_JWT_AUDIENCE_MISMATCH' })

  // the task example: this test process holds both identities, and both entries may begin tasks
  const { task, headers } = await beginTaskFor(TOOL)
  const me = task.spiffeId.toString()
  t.match(me, /^spiffe:\/\/example\.org\/(hello|caller)$/)
  t.equal(await describeTaskRequest(jwt, headers, TOOL), `${me} in task ${task.id} for ${me}`)
  await task.end('completed')
  await t.rejects(task.jwtFor(TOOL), { code: 'ERR_TASK_ENDED' })
})
