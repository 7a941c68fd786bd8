/**
 * `sigil-server validate --config F`: reads and checks a server configuration file the way
 * `sigil-server run` does (server/config/load-server-config.ts: every option's rule and the
 * rules between options) without starting anything. Exit 0 "configuration is valid"; exit 2 with
 * the problem (naming the file or the option) otherwise. Only the file and the defaults are
 * judged: SIGIL_* environment variables, which `run` would lay over the file, are ignored.
 */
import { EXIT_OK } from '../../../common/cli/cli-io.js'
import { defineVerb } from '../../../common/cli/define-verb.js'
import { loadServerConfig } from '../../config/load-server-config.js'

/** Runs the command. */
export const run = defineVerb({
  usage: 'sigil-server validate --config F',
  description: 'Checks a server configuration file (JSON or TOML) without starting the server.',
  options: (j) =>
    j.opt({ config: { hint: 'file', description: 'The configuration file to check (required)' } }),
  required: ['config'],
  run: async (v, io) => {
    const env = Object.fromEntries(Object.entries(io.env).filter(([k]) => !k.startsWith('SIGIL_')))
    loadServerConfig(['--config', v.config as string], env)
    io.stdout.write('configuration is valid\n')
    return EXIT_OK
  },
})
