/**
 * Finds the entry script in an interpreter's command line (`node [options] x.js`, `python3
 * [options] x.py`), skipping the interpreter's own options. The interpreter is recognised by the
 * basename of the process's executable (from `/proc/<pid>/exe`, not from `argv[0]`).
 *
 * Trust: the command line is written by the process itself and can be rewritten by it later
 * (`process.title`), so the entry script tells apart cooperating components that run the same
 * interpreter as the same user; it is not a boundary between processes of one user (which can
 * ptrace each other anyway).
 */

/** The interpreters whose entry script Sigil knows how to find. */
export type Interpreter = 'node' | 'python'

/**
 * What an interpreter was asked to run. `options` are the interpreter's own options before the
 * script, one name each (`--import`, `-r`, `-i`; python's `-X` as `-X:<name>`), so that
 * agent/workloadattestation/injected-code.ts can tell whether other code runs first.
 */
export type EntryScript =
  /** A script file, as written on the command line (relative to the process's cwd if not absolute). */
  | {
      readonly kind: 'script'
      readonly path: string
      readonly interpreter: Interpreter
      readonly options: readonly string[]
    }
  /** A module run by name (`python3 -m http.server`). */
  | {
      readonly kind: 'module'
      readonly name: string
      readonly interpreter: Interpreter
      readonly options: readonly string[]
    }
  /** No script file: inline code (`-e`, `-c`), stdin, a REPL, or an interpreter we do not know. */
  | { readonly kind: 'none' }

const NONE: EntryScript = { kind: 'none' }

function optionSet(words: string): ReadonlySet<string> {
  return new Set(words.trim().split(/\s+/))
}

/**
 * Node options that take their value as the next argument when not written `--opt=value`
 * (Node 20/22 `node --help`, plus aliases). V8 options (`--max-old-space-size=…`) need `=`.
 */
const NODE_OPTIONS_WITH_VALUE = optionSet(`
  -r --require --import --loader --experimental-loader -C --conditions --allow-fs-read
  --allow-fs-write --build-snapshot-config --cpu-prof-dir --cpu-prof-interval --cpu-prof-name
  --debug-port --inspect-port --diagnostic-dir --disable-proto --disable-warning
  --dns-result-order --env-file --env-file-if-exists --experimental-default-type
  --experimental-policy --experimental-sea-config --experimental-config-file --heap-prof-dir
  --heap-prof-interval --heap-prof-name --heapsnapshot-near-heap-limit --heapsnapshot-signal
  --icu-data-dir --input-type --inspect-publish-uid --localstorage-file --max-http-header-size
  --network-family-autoselection-attempt-timeout --openssl-config --policy-integrity
  --redirect-warnings --report-dir --report-directory --report-filename --report-signal
  --secure-heap --secure-heap-min --snapshot-blob --test-concurrency --test-name-pattern
  --test-skip-pattern --test-reporter --test-reporter-destination --test-shard --test-timeout
  --title --tls-cipher-list --tls-keylog --trace-event-categories --trace-event-file-pattern
  --trace-require-module --unhandled-rejections --use-largepages --v8-pool-size --watch-path
`)

/** Node options after which there is no script file to run. */
const NODE_OPTIONS_WITHOUT_SCRIPT = optionSet(`
  -e --eval -p --print -pe -c --check -h --help -v --version --v8-options --test --run
  --completion-bash --build-snapshot
`)

/** `node [options] [--] script [args]`. Node spells `--a_b` and `--a-b` alike. */
function nodeEntryScript(args: readonly string[]): EntryScript {
  const options: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') return script('node', args[i + 1], options)
    if (arg === '-' || !arg.startsWith('-')) return script('node', arg, options)
    const name = nodeOptionName(arg)
    if (NODE_OPTIONS_WITHOUT_SCRIPT.has(name)) return NONE
    options.push(name)
    if (!arg.includes('=') && NODE_OPTIONS_WITH_VALUE.has(name)) i++
  }
  return NONE
}

/**
 * The name of one node option as node reads it: before any `=`, `_` spelled `-`.
 *
 * @example
 * nodeOptionName('--experimental_loader=./x.mjs') // '--experimental-loader'
 */
export function nodeOptionName(arg: string): string {
  const eq = arg.indexOf('=')
  return (eq < 0 ? arg : arg.slice(0, eq)).replace(/_/g, '-')
}

/**
 * `python [options] (-c cmd | -m mod | file | -) [args]`. Short options may be bundled (`-uB`)
 * and `-W`/`-X`/`-c`/`-m` take the rest of the bundle or the next argument as their value.
 */
function pythonEntryScript(args: readonly string[]): EntryScript {
  const options: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') return script('python', args[i + 1], options)
    if (arg === '-' || !arg.startsWith('-')) return script('python', arg, options)
    if (arg.startsWith('--')) {
      if (arg === '--check-hash-based-pycs') i++
      else if (arg.startsWith('--help') || arg === '--version') return NONE
      options.push(arg)
      continue
    }
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j]!
      if (flag === 'h' || flag === '?' || flag === 'V') return NONE
      if (flag === 'c' || flag === 'm' || flag === 'W' || flag === 'X') {
        const rest = arg.slice(j + 1)
        const value = rest !== '' ? rest : args[++i]
        if (flag === 'c') return NONE
        if (flag === 'm') {
          if (value === undefined || value === '') return NONE
          return { kind: 'module', name: value, interpreter: 'python', options }
        }
        options.push(flag === 'X' ? `-X:${(value ?? '').split('=')[0]}` : '-W')
        break
      }
      options.push(`-${flag}`)
    }
  }
  return NONE
}

function script(interpreter: Interpreter, arg: string | undefined, options: readonly string[]): EntryScript {
  return arg === undefined || arg === '-' || arg === ''
    ? NONE
    : { kind: 'script', path: arg, interpreter, options }
}

const INTERPRETERS: readonly {
  readonly name: RegExp
  readonly parse: (args: readonly string[]) => EntryScript
}[] = [
  { name: /^(node|nodejs)[0-9.]*$/, parse: nodeEntryScript },
  { name: /^python[0-9.]*$/, parse: pythonEntryScript },
]

/**
 * The entry script of a command line, if the executable is an interpreter we know (Node.js,
 * Python). `argv` is the full command line, `argv[0]` included (and ignored).
 *
 * @example
 * entryScript('/usr/bin/node', ['node', '--require', 'x', 'app.js'])
 * // { kind: 'script', path: 'app.js', interpreter: 'node', options: ['--require'] }
 * entryScript('/usr/bin/python3.12', ['python3', '-m', 'http.server'])
 * // { kind: 'module', name: 'http.server', interpreter: 'python', options: [] }
 */
export function entryScript(exePath: string, argv: readonly string[]): EntryScript {
  const base = exePath.slice(exePath.lastIndexOf('/') + 1).replace(/ \(deleted\)$/, '')
  const interpreter = INTERPRETERS.find((i) => i.name.test(base))
  return interpreter === undefined ? NONE : interpreter.parse(argv.slice(1))
}
