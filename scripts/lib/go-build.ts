/**
 * Builds a Go Workload API client at run time, the way a SPIFFE workload in Go (go-spiffe) talks
 * to the agent: GOPATH mode (GO111MODULE=off, no module proxy) against Debian's Go packages in
 * /usr/share/gocode, with stubs that protoc + protoc-gen-go + protoc-gen-go-grpc generate from our
 * proto/spiffe/workload/workload.proto into a temp GOPATH. Nothing generated is committed. Used
 * by the Go interop test and the cold-start benchmark. Trust: none; it only runs local tools.
 */
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'

/** Where Debian's golang-*-dev packages install their sources. */
export const GOCODE = '/usr/share/gocode'

/** A file each needed Debian package installs, with the package's name. */
export const GO_BUILD_REQUIREMENTS: readonly (readonly [file: string, debianPackage: string])[] = [
  ['/usr/bin/go', 'golang-go'],
  ['/usr/bin/protoc', 'protobuf-compiler'],
  ['/usr/bin/protoc-gen-go', 'protoc-gen-go'],
  ['/usr/bin/protoc-gen-go-grpc', 'protoc-gen-go-grpc'],
  [`${GOCODE}/src/google.golang.org/grpc/server.go`, 'golang-google-grpc-dev'],
  [`${GOCODE}/src/google.golang.org/protobuf/proto/proto.go`, 'golang-google-protobuf-dev'],
  // grpc-go 1.33's codec calls github.com/golang/protobuf; only its 1.5 line (APIv2 underneath)
  // handles protoc-gen-go's APIv2 messages. With the 1.3 package, the client panics on decode.
  [`${GOCODE}/src/github.com/golang/protobuf/proto/registry.go`, 'golang-github-golang-protobuf-1-5-dev'],
]

/**
 * The Debian packages that are missing for {@link buildGoWorkloadClient} (empty when all are there).
 *
 * @example
 * const missing = missingGoPackages() // e.g. ['protoc-gen-go-grpc']
 */
export function missingGoPackages(): string[] {
  return GO_BUILD_REQUIREMENTS.filter(([file]) => !existsSync(file)).map(([, pkg]) => pkg)
}

/** What to build. */
export interface GoClientBuild {
  /** The repository root (holds proto/). */
  readonly root: string
  /** The Go source file (package main). */
  readonly source: string
  /** A temp dir to use as the first GOPATH entry; the binary is written there too. */
  readonly dir: string
  /** The import path of the program; its stubs are `<goPackage>/workloadpb`. */
  readonly goPackage: string
}

/** How a program run by {@link runProgram} ended. */
export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a program (4 min limit); resolves its exit code and output, never rejects. */
export function runProgram(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { ...opts, timeout: 240_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * Generates the Workload API stubs and builds `source`; resolves the binary's path. A cold build
 * of grpc-go takes about a minute; later builds hit the Go build cache. Throws when protoc or
 * `go build` fails (with their stderr).
 *
 * @example
 * const bin = await buildGoWorkloadClient({ root, source: 'client.go', dir: tmp, goPackage: 'sigilbench' })
 */
export async function buildGoWorkloadClient(build: GoClientBuild): Promise<string> {
  const { root, source, dir, goPackage } = build
  if (!/^[a-z][a-z0-9]*$/.test(goPackage)) throw new TypeError('goPackage must be a lowercase identifier')
  const pkg = join(dir, 'src', goPackage)
  mkdirSync(pkg, { recursive: true })
  copyFileSync(source, join(pkg, 'main.go'))
  const m = `Mspiffe/workload/workload.proto=${goPackage}/workloadpb`
  const src = join(dir, 'src')
  const gen = await runProgram(
    '/usr/bin/protoc',
    [
      '-I',
      'proto',
      `--go_out=${src}`,
      `--go_opt=${m}`,
      `--go-grpc_out=${src}`,
      `--go-grpc_opt=${m}`,
      'proto/spiffe/workload/workload.proto',
    ],
    { cwd: root },
  )
  if (gen.code !== 0) throw new Error(`protoc failed: ${gen.stderr}`)
  const bin = join(dir, goPackage)
  // GOPATH mode: the module proxy is unreachable, Debian's sources live in /usr/share/gocode.
  const env = { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOPATH: `${dir}:${GOCODE}` }
  const built = await runProgram('/usr/bin/go', ['build', '-o', bin, '.'], { cwd: pkg, env })
  if (built.code !== 0) throw new Error(`go build failed: ${built.stderr}`)
  return bin
}
