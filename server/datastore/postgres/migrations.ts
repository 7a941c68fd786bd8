/**
 * The PostgreSQL schema, as an ordered list of migrations: `PG_MIGRATIONS[i]` takes the
 * database from version `i` to version `i + 1`. Append only — never edit a released
 * migration. Each entry translates the SQLite migration of the same purpose
 * (`../sqlite/migrations.ts`); the numbers are PostgreSQL's own (`schema_migrations` lives in
 * each database), so porting a later SQLite table is one appended entry here plus its queries.
 *
 * Encoding: times are BIGINT milliseconds since the Unix epoch (as on SQLite), booleans
 * BOOLEAN, short ordered string lists TEXT[], audiences of the issuance record JSONB (so a batch
 * can be inserted through one `unnest`); selectors live in child tables that vanish with
 * their parent (ON DELETE CASCADE). Creation order, which SQLite reads from `rowid`, is an
 * explicit BIGSERIAL `seq`. `sigil_counters` holds the entries version and the last revocation
 * sequence number: one row each, updated inside the writing transaction, so their order is
 * the commit order even with several servers on one database; since migration 9 also one
 * `changed:<kind>` row per kind of watched data (see `change-listener.ts`).
 */

/** The schema, one SQL script per version. */
export const PG_MIGRATIONS: readonly string[] = [
  // 1: the initial schema (SQLite 1)
  `
  CREATE TABLE sigil_counters (
    name  TEXT   NOT NULL PRIMARY KEY,
    value BIGINT NOT NULL DEFAULT 0
  );
  INSERT INTO sigil_counters (name, value) VALUES ('entries', 0);

  CREATE TABLE registration_entries (
    seq             BIGSERIAL NOT NULL UNIQUE,
    id              TEXT    NOT NULL PRIMARY KEY,
    spiffe_id       TEXT    NOT NULL CHECK (spiffe_id <> ''),
    parent_id       TEXT    NOT NULL CHECK (parent_id <> ''),
    -- canonical JSON of the sorted selector strings: the duplicate rule in one unique index
    selector_set    TEXT    NOT NULL CHECK (selector_set <> '[]'),
    x509_svid_ttl   BIGINT  NOT NULL CHECK (x509_svid_ttl >= 0),
    jwt_svid_ttl    BIGINT  NOT NULL CHECK (jwt_svid_ttl >= 0),
    dns_names       TEXT[]  NOT NULL DEFAULT '{}',
    hint            TEXT    NOT NULL DEFAULT '',
    admin           BOOLEAN NOT NULL DEFAULT false,
    node            BOOLEAN NOT NULL DEFAULT false,
    federates_with  TEXT[]  NOT NULL DEFAULT '{}',
    revision_number BIGINT  NOT NULL DEFAULT 0 CHECK (revision_number >= 0),
    created_at      BIGINT  NOT NULL
  );
  -- through a hash: a btree row holds at most ~2.7 kB, and SPIFFE IDs alone may be 2 kB each
  -- (SPIFFE IDs hold no spaces, so the separator is unambiguous)
  CREATE UNIQUE INDEX registration_entries_unique
    ON registration_entries (md5(spiffe_id || ' ' || parent_id || ' ' || selector_set));
  CREATE INDEX registration_entries_spiffe_id ON registration_entries (spiffe_id);
  CREATE INDEX registration_entries_parent_id ON registration_entries (parent_id);
  CREATE INDEX registration_entries_created_at ON registration_entries (created_at, seq);
  CREATE INDEX registration_entries_node_aliases ON registration_entries (node) WHERE node;

  CREATE TABLE entry_selectors (
    entry_id TEXT NOT NULL REFERENCES registration_entries (id) ON DELETE CASCADE,
    type     TEXT NOT NULL CHECK (type <> ''),
    value    TEXT NOT NULL CHECK (value <> ''),
    PRIMARY KEY (entry_id, type, value)
  );
  CREATE INDEX entry_selectors_selector ON entry_selectors (type, value);

  CREATE TABLE attested_agents (
    spiffe_id        TEXT    NOT NULL PRIMARY KEY CHECK (spiffe_id <> ''),
    attestation_type TEXT    NOT NULL CHECK (attestation_type IN ('join_token', 'x509pop')),
    serial_number    TEXT    NOT NULL,
    expires_at       BIGINT  NOT NULL,
    banned           BOOLEAN NOT NULL DEFAULT false,
    last_seen        BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL
  );

  CREATE TABLE agent_selectors (
    agent_id TEXT NOT NULL REFERENCES attested_agents (spiffe_id) ON DELETE CASCADE,
    type     TEXT NOT NULL CHECK (type <> ''),
    value    TEXT NOT NULL CHECK (value <> ''),
    PRIMARY KEY (agent_id, type, value)
  );
  CREATE INDEX agent_selectors_selector ON agent_selectors (type, value);

  -- join tokens: only the SHA-256 of the token is ever stored
  CREATE TABLE join_tokens (
    token_hash TEXT   NOT NULL PRIMARY KEY CHECK (length(token_hash) = 64),
    spiffe_id  TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at);

  -- tombstones of consumed tokens, so a second use is told apart from an unknown token
  CREATE TABLE used_join_tokens (
    token_hash TEXT   NOT NULL PRIMARY KEY CHECK (length(token_hash) = 64),
    used_at    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX used_join_tokens_expires_at ON used_join_tokens (expires_at);

  CREATE TABLE bundles (
    trust_domain       TEXT   NOT NULL PRIMARY KEY CHECK (trust_domain <> ''),
    spiffe_bundle_json TEXT   NOT NULL,
    sequence_number    BIGINT NOT NULL CHECK (sequence_number >= 0),
    updated_at         BIGINT NOT NULL
  );

  -- the issuance record: no foreign keys, the audit trail outlives entries and agents
  CREATE TABLE issued_svids (
    id            BIGSERIAL NOT NULL PRIMARY KEY,
    kind          TEXT   NOT NULL CHECK (kind IN ('x509', 'jwt')),
    serial_or_jti TEXT   NOT NULL CHECK (serial_or_jti <> ''),
    spiffe_id     TEXT   NOT NULL,
    entry_id      TEXT   NOT NULL,
    agent_id      TEXT   NOT NULL,
    not_before    BIGINT NOT NULL,
    not_after     BIGINT NOT NULL,
    audience      JSONB  NOT NULL DEFAULT '[]',
    issued_at     BIGINT NOT NULL,
    UNIQUE (kind, serial_or_jti)
  );
  CREATE INDEX issued_svids_issued_at ON issued_svids (issued_at);
  CREATE INDEX issued_svids_spiffe_id ON issued_svids (spiffe_id, issued_at);
  CREATE INDEX issued_svids_agent_id ON issued_svids (agent_id, issued_at);
  CREATE INDEX issued_svids_not_after ON issued_svids (not_after);
  `,
  // 2: tasks (SQLite 2, issue 13): task-bound credentials; entries say which tasks they may begin
  `
  ALTER TABLE registration_entries ADD COLUMN task_scopes TEXT[] NOT NULL DEFAULT '{}';
  ALTER TABLE registration_entries ADD COLUMN max_task_ttl BIGINT NOT NULL DEFAULT 0 CHECK (max_task_ttl >= 0);
  ALTER TABLE registration_entries ADD COLUMN revoke_on_exit BOOLEAN NOT NULL DEFAULT false;

  -- no foreign keys to entries or agents: a task's record outlives both
  CREATE TABLE tasks (
    seq          BIGSERIAL NOT NULL UNIQUE,
    id           TEXT   NOT NULL PRIMARY KEY CHECK (id <> ''),
    state        TEXT   NOT NULL CHECK (state IN ('active', 'ended')),
    outcome      TEXT   NOT NULL DEFAULT '' CHECK (outcome IN ('', 'completed', 'failed', 'cancelled', 'expired', 'process_exited')),
    end_reason   TEXT   NOT NULL DEFAULT '',
    spiffe_id    TEXT   NOT NULL CHECK (spiffe_id <> ''),
    entry_id     TEXT   NOT NULL,
    agent_id     TEXT   NOT NULL,
    process_key  TEXT   NOT NULL,
    subject      TEXT   NOT NULL CHECK (subject <> ''),
    purpose      TEXT   NOT NULL,
    scope        TEXT[] NOT NULL,
    act_chain    TEXT[] NOT NULL DEFAULT '{}',
    parent_txn   TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    deadline     BIGINT NOT NULL,
    ended_at     BIGINT,
    CHECK ((state = 'ended') = (ended_at IS NOT NULL AND outcome <> ''))
  );
  CREATE INDEX tasks_state_deadline ON tasks (state, deadline);
  CREATE INDEX tasks_spiffe_id ON tasks (spiffe_id, created_at);
  CREATE INDEX tasks_created_at ON tasks (created_at, seq);

  -- every credential issued for a task (the Txn-Token's txn, JWT-SVID jtis, X.509 serials)
  CREATE TABLE task_credentials (
    task_id    TEXT   NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    kind       TEXT   NOT NULL CHECK (kind IN ('txn', 'jwt', 'x509')),
    credential TEXT   NOT NULL CHECK (credential <> ''),
    audience   TEXT[] NOT NULL DEFAULT '{}',
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, kind, credential)
  );

  -- every decision about a task, refusals included (the task's audit trail)
  CREATE TABLE task_events (
    id      BIGSERIAL NOT NULL PRIMARY KEY,
    task_id TEXT   NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    at      BIGINT NOT NULL,
    event   TEXT   NOT NULL CHECK (event <> ''),
    detail  TEXT   NOT NULL DEFAULT ''
  );
  CREATE INDEX task_events_task_id ON task_events (task_id, id);
  `,
  // 3: revocations (SQLite 3), each kept until what it names expires; the sequence number comes
  // from sigil_counters (never reused after pruning, handed out in commit order)
  `
  INSERT INTO sigil_counters (name, value) VALUES ('revocations', 0);
  CREATE TABLE revocations (
    sequence   BIGINT NOT NULL PRIMARY KEY,
    kind       TEXT   NOT NULL CHECK (kind IN ('x509_serial', 'jwt_jti', 'txn')),
    value      TEXT   NOT NULL CHECK (value <> ''),
    reason     TEXT   NOT NULL DEFAULT '',
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    UNIQUE (kind, value)
  );
  CREATE INDEX revocations_expires_at ON revocations (expires_at);
  `,
  // 4: federation relationships (SQLite 4, issue 16 item 3): where each foreign trust domain's
  // bundle is fetched from and how, and the state of the refreshes; the bundles stay in `bundles`
  `
  CREATE TABLE federation_relationships (
    trust_domain            TEXT   NOT NULL PRIMARY KEY CHECK (trust_domain <> ''),
    bundle_endpoint_url     TEXT   NOT NULL CHECK (bundle_endpoint_url <> ''),
    bundle_endpoint_profile TEXT   NOT NULL CHECK (bundle_endpoint_profile IN ('https_web', 'https_spiffe')),
    endpoint_spiffe_id      TEXT   NOT NULL DEFAULT '',
    created_at              BIGINT NOT NULL,
    last_refresh_at         BIGINT,
    next_refresh_at         BIGINT NOT NULL,
    last_error              TEXT   NOT NULL DEFAULT '',
    CHECK ((bundle_endpoint_profile = 'https_spiffe') = (endpoint_spiffe_id <> ''))
  );
  `,
  // 5: the audit trail (SQLite 5, issue 14 item 7): append-only, hash-chained records
  // (server/audit/); hashes are computed by the server, never by SQL; the triggers refuse
  // UPDATE, DELETE and TRUNCATE (a hand edit that drops them is what the chain detects)
  `
  CREATE TABLE audit_records (
    seq           BIGINT NOT NULL PRIMARY KEY CHECK (seq >= 1),
    at            BIGINT NOT NULL,
    kind          TEXT   NOT NULL CHECK (kind <> ''),
    decision      TEXT   NOT NULL CHECK (decision IN ('allow', 'deny', 'hold', 'info')),
    spiffe_id     TEXT   NOT NULL DEFAULT '',
    task_id       TEXT   NOT NULL DEFAULT '',
    serial_or_jti TEXT   NOT NULL DEFAULT '',
    actor         TEXT   NOT NULL DEFAULT '',
    details       TEXT   NOT NULL DEFAULT '{}',
    prev_hash     TEXT   NOT NULL CHECK (length(prev_hash) = 64),
    hash          TEXT   NOT NULL CHECK (length(hash) = 64)
  );
  CREATE INDEX audit_records_at ON audit_records (at);
  CREATE INDEX audit_records_spiffe_id ON audit_records (spiffe_id, seq);
  CREATE INDEX audit_records_task_id ON audit_records (task_id, seq);
  CREATE INDEX audit_records_serial_or_jti ON audit_records (serial_or_jti, seq);
  CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$;
  CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
  CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
  `,
  // 6: policies (SQLite 6, issue 14): versioned Cedar policy sets; operator metadata on entries;
  // the 'drifted' task outcome (PostgreSQL changes the CHECK in place)
  `
  CREATE TABLE policy_versions (
    version      BIGINT NOT NULL PRIMARY KEY CHECK (version > 0),
    text         TEXT   NOT NULL,
    sha256       TEXT   NOT NULL CHECK (length(sha256) = 64),
    created_at   BIGINT NOT NULL,
    -- who set it: the admin caller as the admin socket saw it (uid/pid/exe or SPIFFE ID)
    admin_caller TEXT   NOT NULL DEFAULT '',
    -- the @id of every policy, in order, so listing never recompiles
    policy_ids   TEXT[] NOT NULL DEFAULT '{}'
  );

  ALTER TABLE registration_entries ADD COLUMN owner TEXT NOT NULL DEFAULT '';
  ALTER TABLE registration_entries ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
  ALTER TABLE registration_entries ADD COLUMN risk TEXT NOT NULL DEFAULT ''
    CHECK (risk IN ('', 'low', 'medium', 'high'));

  ALTER TABLE tasks DROP CONSTRAINT tasks_outcome_check;
  ALTER TABLE tasks ADD CONSTRAINT tasks_outcome_check
    CHECK (outcome IN ('', 'completed', 'failed', 'cancelled', 'expired', 'process_exited', 'drifted'));
  `,
  // 7: approvals (SQLite 7): human approval of requests held by an @approval("required") policy
  `
  CREATE TABLE approvals (
    seq          BIGSERIAL NOT NULL UNIQUE,
    id           TEXT   NOT NULL PRIMARY KEY CHECK (id <> ''),
    principal    TEXT   NOT NULL CHECK (principal <> ''),
    action       TEXT   NOT NULL CHECK (action <> ''),
    resource     TEXT   NOT NULL CHECK (resource <> ''),
    task_id      TEXT   NOT NULL DEFAULT '',
    status       TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    reason       TEXT   NOT NULL DEFAULT '',
    requested_at BIGINT NOT NULL,
    decided_at   BIGINT,
    decided_by   TEXT   NOT NULL DEFAULT '',
    valid_until  BIGINT NOT NULL,
    CHECK ((status = 'pending') = (decided_at IS NULL))
  );
  CREATE INDEX approvals_key ON approvals (principal, action, resource, task_id, status, valid_until);
  CREATE INDEX approvals_status ON approvals (status, requested_at);
  `,
  // 8: entry expiry (SQLite 8, SPIRE's -entryExpiry): unix seconds, 0 = never; expired entries are pruned
  `
  ALTER TABLE registration_entries ADD COLUMN entry_expiry BIGINT NOT NULL DEFAULT 0 CHECK (entry_expiry >= 0);
  CREATE INDEX registration_entries_entry_expiry ON registration_entries (entry_expiry) WHERE entry_expiry > 0;
  `,
  // 9: change notification (SQLite 9, issue 15): one 'changed:<kind>' counter per kind of watched
  // data, bumped by row-level triggers in the writing transaction — once per kind and transaction
  // (a transaction-local setting remembers it), at the first row that really changed: an update of
  // only an agent's last_seen or a bundle's updated_at is not a change — which also NOTIFY
  // 'sigil_changes' with '<kind>:<counter>', delivered at commit to every server LISTENing. The
  // counters are the reconcile's fallback when a notification is missed.
  `
  INSERT INTO sigil_counters (name, value) VALUES ('changed:entries', 0), ('changed:agents', 0),
    ('changed:bundles', 0), ('changed:revocations', 0), ('changed:policies', 0), ('changed:tasks', 0),
    ('changed:approvals', 0);
  CREATE FUNCTION sigil_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    kind TEXT := TG_ARGV[0];
    counter BIGINT;
  BEGIN
    IF current_setting('sigil.changed_' || kind, true) = 'y' THEN RETURN NULL; END IF;
    PERFORM set_config('sigil.changed_' || kind, 'y', true);
    UPDATE sigil_counters SET value = value + 1 WHERE name = 'changed:' || kind RETURNING value INTO counter;
    PERFORM pg_notify('sigil_changes', kind || ':' || counter);
    RETURN NULL;
  END $$;
${changeTriggers('registration_entries', 'entries', 'OLD.* IS DISTINCT FROM NEW.*')}
${changeTriggers(
  'attested_agents',
  'agents',
  '(OLD.attestation_type, OLD.serial_number, OLD.expires_at, OLD.banned) IS DISTINCT FROM ' +
    '(NEW.attestation_type, NEW.serial_number, NEW.expires_at, NEW.banned)',
)}
${changeTriggers(
  'bundles',
  'bundles',
  '(OLD.spiffe_bundle_json, OLD.sequence_number) IS DISTINCT FROM (NEW.spiffe_bundle_json, NEW.sequence_number)',
)}
${changeTriggers('revocations', 'revocations', 'OLD.* IS DISTINCT FROM NEW.*')}
${changeTriggers('policy_versions', 'policies', 'OLD.* IS DISTINCT FROM NEW.*')}
${changeTriggers('tasks', 'tasks', 'OLD.* IS DISTINCT FROM NEW.*')}
${changeTriggers('approvals', 'approvals', 'OLD.* IS DISTINCT FROM NEW.*')}
  `,
]

/**
 * Migration 9's triggers on `table`: every inserted or deleted row, and every updated row for which
 * `changed` holds, calls `sigil_note_change(kind)` (which acts once per transaction). Frozen with
 * migration 9.
 */
function changeTriggers(table: string, kind: string, changed: string): string {
  return `
  CREATE CONSTRAINT TRIGGER ${table}_changed AFTER INSERT OR DELETE ON ${table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION sigil_note_change('${kind}');
  CREATE CONSTRAINT TRIGGER ${table}_updated AFTER UPDATE ON ${table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (${changed}) EXECUTE FUNCTION sigil_note_change('${kind}');`
}
