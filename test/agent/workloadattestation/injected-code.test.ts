import t from 'tap'
import { entryScript } from '../../../agent/workloadattestation/entry-script.js'
import { injectedCode } from '../../../agent/workloadattestation/injected-code.js'

const node = (...args: string[]) => entryScript('/usr/bin/node', ['node', ...args])
const python = (...args: string[]) => entryScript('/usr/bin/python3.11', ['python3', ...args])

t.test('node: options that run other code first withhold the script', async (t) => {
  for (const args of [
    ['--import', 'evil.mjs', 'app.js'],
    ['--import=evil.mjs', 'app.js'],
    ['-r', 'evil.js', 'app.js'],
    ['--require=evil.js', 'app.js'],
    ['--loader', 'l.mjs', 'app.js'],
    ['--experimental_loader=l.mjs', 'app.js'],
    ['--inspect', 'app.js'],
    ['--inspect-brk=0', 'app.js'],
    ['--env-file', '.env', 'app.js'],
    ['--snapshot-blob', 's.blob', 'app.js'],
    ['--openssl-config=/tmp/o.cnf', 'app.js'],
    ['-i', 'app.js'],
  ]) {
    t.match(injectedCode(node(...args), []), /^the command line has /, args.join(' '))
  }
  for (const args of [
    ['app.js'],
    ['--enable-source-maps', '--max-old-space-size=100', 'app.js'],
    ['app.js', '-r', 'x'],
  ]) {
    t.equal(injectedCode(node(...args), ['HOME=/root', 'NODE_ENV=production']), undefined, args.join(' '))
  }
})

t.test('node: NODE_OPTIONS and variables that load other code withhold the script', async (t) => {
  const app = node('app.js')
  t.equal(injectedCode(app, ['NODE_OPTIONS=--import=evil.mjs']), 'NODE_OPTIONS has --import')
  t.equal(
    injectedCode(app, ['NODE_OPTIONS=--max-old-space-size=64 --require ./evil.js']),
    'NODE_OPTIONS has --require',
  )
  t.equal(injectedCode(app, ['NODE_OPTIONS=-r evil']), 'NODE_OPTIONS has -r')
  t.equal(
    injectedCode(app, ['NODE_OPTIONS="--experimental_loader=x"']),
    'NODE_OPTIONS has --experimental-loader',
  )
  t.equal(injectedCode(app, ['NODE_OPTIONS=--inspect=0.0.0.0:9229']), 'NODE_OPTIONS has --inspect')
  t.equal(injectedCode(app, ['NODE_OPTIONS=--max-old-space-size=64 --enable-source-maps']), undefined)
  for (const v of [
    'NODE_PATH=/tmp/evil',
    'NODE_COMPILE_CACHE=/tmp/c',
    'LD_PRELOAD=/tmp/e.so',
    'LD_LIBRARY_PATH=/tmp',
  ]) {
    t.equal(injectedCode(app, ['HOME=/', v]), `${v.split('=')[0]} is set`, v)
  }
  t.equal(injectedCode(app, ['PYTHONPATH=/tmp']), undefined, 'python variables do not matter to node')
})

t.test('python: startup code, paths and -i withhold the script and the module', async (t) => {
  const app = python('app.py')
  for (const v of [
    'PYTHONPATH=/tmp/evil',
    'PYTHONSTARTUP=/tmp/s.py',
    'PYTHONHOME=/tmp',
    'PYTHONINSPECT=1',
    'PYTHONUSERBASE=/tmp',
    'PYTHONSOMETHINGNEW=1',
    'OPENSSL_CONF=/tmp/o.cnf',
  ]) {
    t.equal(injectedCode(app, [v]), `${v.split('=')[0]} is set`, v)
  }
  t.equal(injectedCode(python('-m', 'http.server'), ['PYTHONPATH=/tmp']), 'PYTHONPATH is set', '-m too')
  t.equal(
    injectedCode(app, ['PYTHONUNBUFFERED=1', 'PYTHONDONTWRITEBYTECODE=1', 'NODE_OPTIONS=--import=x']),
    undefined,
  )
  t.equal(
    injectedCode(python('-I', 'app.py'), ['PYTHONPATH=/tmp']),
    undefined,
    '-I ignores PYTHON* variables',
  )
  t.equal(
    injectedCode(python('-E', 'app.py'), ['PYTHONSTARTUP=/tmp']),
    undefined,
    '-E ignores PYTHON* variables',
  )
  t.equal(
    injectedCode(python('-I', 'app.py'), ['LD_PRELOAD=/tmp/e.so']),
    'LD_PRELOAD is set',
    'not the loader ones',
  )
  t.equal(injectedCode(python('-i', 'app.py'), []), 'the command line has -i')
  t.equal(
    injectedCode(python('-X', 'pycache_prefix=/tmp', 'app.py'), []),
    'the command line has -X:pycache_prefix',
  )
  t.equal(injectedCode(python('-X', 'dev', '-W', 'ignore', 'app.py'), []), undefined)
})

t.test('an unreadable environment withholds (fail closed); no script, nothing to withhold', async (t) => {
  t.equal(injectedCode(node('app.js'), undefined), 'the environment cannot be read')
  t.equal(injectedCode(node('-e', '1'), undefined), undefined)
  t.equal(injectedCode(entryScript('/usr/bin/bash', ['bash', 'x']), ['LD_PRELOAD=x']), undefined)
})
