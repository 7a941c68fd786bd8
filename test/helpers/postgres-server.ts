/**
 * The tests' real PostgreSQL: one implementation, in scripts/lib/postgres-server.ts, shared with
 * the benchmarks and `npm run start:ha`. Re-exported here so tests import it from test/helpers.
 */
export {
  freePort,
  PG_USER,
  postgresBinDir,
  startPostgres,
  type TeardownOwner,
  type TestPostgres,
} from '../../scripts/lib/postgres-server.js'
