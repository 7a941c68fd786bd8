/**
 * Was an interpreter given code to run besides its entry script? `proc:script`,
 * `proc:script_sha256` and `proc:module` say which program a process runs; they are withheld
 * when the command line or the environment makes the interpreter (or the dynamic loader) run
 * other code first — `NODE_OPTIONS=--import=evil.mjs node /srv/app.js` runs evil.mjs as whoever
 * started it, with a command line that names /srv/app.js.
 *
 * Trust: the command line and `/proc/<pid>/environ` show what the process was started with,
 * unless it rewrote that memory since (code of its own can do that, injected code too). So this
 * stops the plain attack, not a process that already runs code of the attacker's: a script
 * selector is a claim, to be paired with `unix:uid`/`unix:gid`/`unix:user` across users.
 */
import type { EntryScript, Interpreter } from './entry-script.js'
import { nodeOptionName } from './entry-script.js'

/** Node options that run code besides the script, or let another process run code in it. */
const NODE_CODE_OPTIONS = new Set([
  '-r',
  '--require',
  '--import',
  '--loader',
  '--experimental-loader',
  '-i',
  '--interactive',
  '--env-file',
  '--env-file-if-exists',
  '--snapshot-blob',
  '--openssl-config',
])
/** Prefixes of node options that open a debugger (any local process may attach and run code). */
const NODE_CODE_OPTION_PREFIXES = ['--inspect', '--debug']

/** Node environment variables that load other code (NODE_OPTIONS is read option by option). */
const NODE_CODE_ENV = new Set(['NODE_PATH', 'NODE_COMPILE_CACHE', 'NODE_REPL_EXTERNAL_MODULE'])

/** Python options that run code besides the script (`-i`: a REPL afterwards; `-X pycache_prefix`). */
const PYTHON_CODE_OPTIONS = new Set(['-i', '-X:pycache_prefix'])
/** PYTHON* variables that change no code that runs; any other PYTHON* variable withholds. */
const PYTHON_HARMLESS_ENV = new Set([
  'PYTHONUNBUFFERED',
  'PYTHONDONTWRITEBYTECODE',
  'PYTHONIOENCODING',
  'PYTHONUTF8',
  'PYTHONHASHSEED',
  'PYTHONSAFEPATH',
  'PYTHONNOUSERSITE',
  'PYTHONOPTIMIZE',
  'PYTHONFAULTHANDLER',
  'PYTHONTRACEMALLOC',
  'PYTHONDEVMODE',
  'PYTHONASYNCIODEBUG',
  'PYTHONMALLOC',
  'PYTHONMALLOCSTATS',
  'PYTHONCOERCECLOCALE',
  'PYTHONVERBOSE',
  'PYTHONDEBUG',
  'PYTHONNODEBUGRANGES',
  'PYTHONINTMAXSTRDIGITS',
  'PYTHONWARNDEFAULTENCODING',
])

/** Variables any dynamically linked interpreter obeys that load other code. */
const LOADER_CODE_ENV = new Set([
  'LD_PRELOAD',
  'LD_AUDIT',
  'LD_LIBRARY_PATH',
  'GCONV_PATH',
  'OPENSSL_CONF',
  'OPENSSL_MODULES',
  'OPENSSL_ENGINES',
])

function isNodeCodeOption(name: string): boolean {
  return NODE_CODE_OPTIONS.has(name) || NODE_CODE_OPTION_PREFIXES.some((p) => name.startsWith(p))
}

/** The words of NODE_OPTIONS as node splits them (spaces, with "double quotes" grouping). */
function nodeOptionsWords(value: string): string[] {
  return (value.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).map((w) => w.replace(/"/g, ''))
}

function variable(entry: string): [string, string] {
  const eq = entry.indexOf('=')
  return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)]
}

function fromEnvironment(
  interpreter: Interpreter,
  options: readonly string[],
  environ: readonly string[],
): string | undefined {
  // python -E and -I ignore every PYTHON* variable.
  const pythonIgnoresEnv = options.includes('-E') || options.includes('-I')
  for (const entry of environ) {
    const [name, value] = variable(entry)
    if (LOADER_CODE_ENV.has(name)) return `${name} is set`
    if (interpreter === 'node') {
      if (NODE_CODE_ENV.has(name)) return `${name} is set`
      if (name === 'NODE_OPTIONS') {
        const hit = nodeOptionsWords(value).map(nodeOptionName).find(isNodeCodeOption)
        if (hit !== undefined) return `NODE_OPTIONS has ${hit}`
      }
    } else if (name.startsWith('PYTHON') && !pythonIgnoresEnv && !PYTHON_HARMLESS_ENV.has(name)) {
      return `${name} is set`
    }
  }
  return undefined
}

/**
 * Why the entry script may not be the only code the interpreter runs, or undefined when nothing
 * says so. `environ` is the process's initial environment (`/proc/<pid>/environ`, split at NULs);
 * undefined (unreadable) counts as injected: fail closed.
 *
 * @example
 * const entry = entryScript('/usr/bin/node', ['node', 'app.js'])
 * injectedCode(entry, ['NODE_OPTIONS=--import=./evil.mjs']) // 'NODE_OPTIONS has --import'
 * injectedCode(entry, ['NODE_ENV=production']) // undefined
 */
export function injectedCode(entry: EntryScript, environ: readonly string[] | undefined): string | undefined {
  if (entry.kind === 'none') return undefined
  if (environ === undefined) return 'the environment cannot be read'
  const { interpreter, options } = entry
  const option = options.find((o) =>
    interpreter === 'node' ? isNodeCodeOption(o) : PYTHON_CODE_OPTIONS.has(o),
  )
  if (option !== undefined) return `the command line has ${option}`
  return fromEnvironment(interpreter, options, environ)
}
