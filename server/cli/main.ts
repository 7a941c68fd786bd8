#!/usr/bin/env node
/** sigil-server command line (placeholder until the server lands). */
process.stdout.write(
  'usage: sigil-server <command> [options]\n\nThe server is not built yet; see README.md.\n',
)
