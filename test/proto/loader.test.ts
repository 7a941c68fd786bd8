// The one loader finds the .proto files from the TypeScript sources, from a compiled
// dist/proto/loader.js (tsc does not copy .proto files) whatever the working directory, and
// refuses paths outside the proto folder.
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import {
  loadProto,
  PROTO_FILES,
  PROTO_LOADER_OPTIONS,
  type ProtoFile,
  protoRoot,
} from '../../proto/loader.js'
import { ROOT } from '../helpers/server-process.js'

const run = promisify(execFile)
const repo = ROOT

t.test('from the sources, the proto folder is the repository proto/', async (t) => {
  t.equal(protoRoot(), join(repo, 'proto'))
  t.equal(
    protoRoot(pathToFileURL(join(repo, 'dist/proto/loader.js')).href),
    join(repo, 'proto'),
    'from dist/',
  )
  t.equal(protoRoot(join(repo, 'proto/loader.ts')), join(repo, 'proto'), 'a plain path works too')
})

t.test('outside any package with the protos, protoRoot throws', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sigil-proto-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'package.json'), '{}')
  t.throws(() => protoRoot(join(dir, 'dist/proto/loader.js')), /workload\.proto/)
})

t.test('every shipped proto loads with the fixed options', async (t) => {
  t.same(PROTO_LOADER_OPTIONS, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true })
  t.ok(Object.isFrozen(PROTO_LOADER_OPTIONS))
  for (const file of PROTO_FILES) t.ok(Object.keys(loadProto(file)).length > 0, file)
})

t.test('paths outside the proto folder are a caller bug', async (t) => {
  for (const bad of ['../package.json', '/etc/passwd', 'spiffe/../../x.proto']) {
    t.throws(() => loadProto(bad as ProtoFile), TypeError, bad)
  }
})

t.test('compiled to dist/proto/loader.js, it loads every API from another working directory', async (t) => {
  const pkg = await mkdtemp(join(tmpdir(), 'sigil-proto-pkg-'))
  t.teardown(() => rm(pkg, { recursive: true, force: true }))
  await writeFile(join(pkg, 'package.json'), '{"type":"module"}')
  await cp(join(repo, 'proto'), join(pkg, 'proto'), {
    recursive: true,
    filter: (src) => !src.includes(`${join(repo, 'proto', 'generated')}`) && !src.endsWith('.ts'),
  })
  await symlink(join(repo, 'node_modules'), join(pkg, 'node_modules'), 'dir')
  // The build's own output (`npm test` builds dist/ first): the file the package ships.
  await mkdir(join(pkg, 'dist/proto'), { recursive: true })
  await cp(join(repo, 'dist/proto/loader.js'), join(pkg, 'dist/proto/loader.js'))
  const script = `
    const m = await import(${JSON.stringify(pathToFileURL(join(pkg, 'dist/proto/loader.js')).href)})
    console.log(JSON.stringify({
      root: m.protoRoot(),
      workload: m.loadWorkloadApi().service.FetchX509SVID.path,
      agent: m.loadAgentApi().service.AttestAgent.path,
      admin: m.loadAdminApi().service.Health.path,
    }))`
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: tmpdir(),
  })
  t.same(JSON.parse(stdout), {
    root: join(pkg, 'proto'),
    workload: '/SpiffeWorkloadAPI/FetchX509SVID',
    agent: '/sigil.agent.v1.AgentAPI/AttestAgent',
    admin: '/sigil.admin.v1.AdminAPI/Health',
  })
  t.equal(stderr, '', 'no warnings (google/protobuf/struct.proto comes bundled with protobufjs)')
})
