/**
 * The SQLite schema, as an ordered list of migrations: `MIGRATIONS[i]` takes the database
 * from version `i` to version `i + 1`. Append only — never edit a released migration; a
 * new column or index is a new entry. `migrate.ts` applies what is pending in one
 * transaction and records each version in `schema_migrations`.
 *
 * Encoding: every time is an INTEGER of milliseconds since the Unix epoch (UTC); booleans
 * are INTEGER 0/1; short ordered string lists (DNS names, federated trust domains, JWT
 * audiences) are JSON arrays in TEXT; selectors live in child tables (one row each, so they
 * can be indexed) that vanish with their parent (ON DELETE CASCADE). Tables are STRICT.
 */

/** The schema, one SQL script per version. */
export const MIGRATIONS: readonly string[] = [
  // 1: the initial schema
  `
  CREATE TABLE registration_entries (
    id              TEXT    NOT NULL PRIMARY KEY,
    spiffe_id       TEXT    NOT NULL CHECK (spiffe_id <> ''),
    parent_id       TEXT    NOT NULL CHECK (parent_id <> ''),
    -- canonical JSON of the sorted selector strings: the duplicate rule in one UNIQUE
    selector_set    TEXT    NOT NULL CHECK (selector_set <> '[]'),
    x509_svid_ttl   INTEGER NOT NULL CHECK (x509_svid_ttl >= 0),
    jwt_svid_ttl    INTEGER NOT NULL CHECK (jwt_svid_ttl >= 0),
    dns_names       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(dns_names)),
    hint            TEXT    NOT NULL DEFAULT '',
    admin           INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    node            INTEGER NOT NULL DEFAULT 0 CHECK (node IN (0, 1)),
    federates_with  TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(federates_with)),
    revision_number INTEGER NOT NULL DEFAULT 0 CHECK (revision_number >= 0),
    created_at      INTEGER NOT NULL,
    -- also serves lookups by spiffe_id (its leftmost column)
    UNIQUE (spiffe_id, parent_id, selector_set)
  ) STRICT;
  CREATE INDEX registration_entries_parent_id ON registration_entries (parent_id);
  CREATE INDEX registration_entries_created_at ON registration_entries (created_at);
  CREATE INDEX registration_entries_node_aliases ON registration_entries (node) WHERE node = 1;

  CREATE TABLE entry_selectors (
    entry_id TEXT NOT NULL REFERENCES registration_entries (id) ON DELETE CASCADE,
    type     TEXT NOT NULL CHECK (type <> ''),
    value    TEXT NOT NULL CHECK (value <> ''),
    PRIMARY KEY (entry_id, type, value)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX entry_selectors_selector ON entry_selectors (type, value);

  CREATE TABLE attested_agents (
    spiffe_id        TEXT    NOT NULL PRIMARY KEY CHECK (spiffe_id <> ''),
    attestation_type TEXT    NOT NULL CHECK (attestation_type IN ('join_token', 'x509pop')),
    serial_number    TEXT    NOT NULL,
    expires_at       INTEGER NOT NULL,
    banned           INTEGER NOT NULL DEFAULT 0 CHECK (banned IN (0, 1)),
    last_seen        INTEGER NOT NULL,
    created_at       INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE agent_selectors (
    agent_id TEXT NOT NULL REFERENCES attested_agents (spiffe_id) ON DELETE CASCADE,
    type     TEXT NOT NULL CHECK (type <> ''),
    value    TEXT NOT NULL CHECK (value <> ''),
    PRIMARY KEY (agent_id, type, value)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX agent_selectors_selector ON agent_selectors (type, value);

  -- join tokens: only the SHA-256 of the token is ever stored
  CREATE TABLE join_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 64),
    spiffe_id  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at);

  -- tombstones of consumed tokens, so a second use is told apart from an unknown token
  CREATE TABLE used_join_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 64),
    used_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX used_join_tokens_expires_at ON used_join_tokens (expires_at);

  CREATE TABLE bundles (
    trust_domain       TEXT    NOT NULL PRIMARY KEY CHECK (trust_domain <> ''),
    spiffe_bundle_json TEXT    NOT NULL,
    sequence_number    INTEGER NOT NULL CHECK (sequence_number >= 0),
    updated_at         INTEGER NOT NULL
  ) STRICT;

  -- the issuance record: no foreign keys, the audit trail outlives entries and agents
  CREATE TABLE issued_svids (
    id            INTEGER NOT NULL PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('x509', 'jwt')),
    serial_or_jti TEXT    NOT NULL CHECK (serial_or_jti <> ''),
    spiffe_id     TEXT    NOT NULL,
    entry_id      TEXT    NOT NULL,
    agent_id      TEXT    NOT NULL,
    not_before    INTEGER NOT NULL,
    not_after     INTEGER NOT NULL,
    audience      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(audience)),
    issued_at     INTEGER NOT NULL,
    UNIQUE (kind, serial_or_jti)
  ) STRICT;
  CREATE INDEX issued_svids_issued_at ON issued_svids (issued_at);
  CREATE INDEX issued_svids_spiffe_id ON issued_svids (spiffe_id, issued_at);
  CREATE INDEX issued_svids_agent_id ON issued_svids (agent_id, issued_at);
  CREATE INDEX issued_svids_not_after ON issued_svids (not_after);
  `,
  // 2: tasks (issue 13): task-bound credentials; entries say which tasks they may begin
  `
  ALTER TABLE registration_entries ADD COLUMN task_scopes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(task_scopes));
  ALTER TABLE registration_entries ADD COLUMN max_task_ttl INTEGER NOT NULL DEFAULT 0 CHECK (max_task_ttl >= 0);
  ALTER TABLE registration_entries ADD COLUMN revoke_on_exit INTEGER NOT NULL DEFAULT 0 CHECK (revoke_on_exit IN (0, 1));

  -- no foreign keys to entries or agents: a task's record outlives both
  CREATE TABLE tasks (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    state        TEXT    NOT NULL CHECK (state IN ('active', 'ended')),
    outcome      TEXT    NOT NULL DEFAULT '' CHECK (outcome IN ('', 'completed', 'failed', 'cancelled', 'expired', 'process_exited')),
    end_reason   TEXT    NOT NULL DEFAULT '',
    spiffe_id    TEXT    NOT NULL CHECK (spiffe_id <> ''),
    entry_id     TEXT    NOT NULL,
    agent_id     TEXT    NOT NULL,
    process_key  TEXT    NOT NULL,
    subject      TEXT    NOT NULL CHECK (subject <> ''),
    purpose      TEXT    NOT NULL,
    scope        TEXT    NOT NULL CHECK (json_valid(scope)),
    act_chain    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(act_chain)),
    parent_txn   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    deadline     INTEGER NOT NULL,
    ended_at     INTEGER,
    CHECK ((state = 'ended') = (ended_at IS NOT NULL AND outcome <> ''))
  ) STRICT;
  CREATE INDEX tasks_state_deadline ON tasks (state, deadline);
  CREATE INDEX tasks_spiffe_id ON tasks (spiffe_id, created_at);

  -- every credential issued for a task (the Txn-Token's txn, JWT-SVID jtis, X.509 serials)
  CREATE TABLE task_credentials (
    task_id    TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('txn', 'jwt', 'x509')),
    credential TEXT    NOT NULL CHECK (credential <> ''),
    audience   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(audience)),
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, kind, credential)
  ) STRICT, WITHOUT ROWID;

  -- every decision about a task, refusals included (the task's audit trail)
  CREATE TABLE task_events (
    id      INTEGER NOT NULL PRIMARY KEY,
    task_id TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    event   TEXT    NOT NULL CHECK (event <> ''),
    detail  TEXT    NOT NULL DEFAULT ''
  ) STRICT;
  CREATE INDEX task_events_task_id ON task_events (task_id, id);
  `,
  // 3: revocations (X.509 serials, JWT jti, Txn-Token txn), each kept until what it names expires;
  // AUTOINCREMENT so a sequence number is never reused after pruning
  `
  CREATE TABLE revocations (
    sequence   INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL CHECK (kind IN ('x509_serial', 'jwt_jti', 'txn')),
    value      TEXT    NOT NULL CHECK (value <> ''),
    reason     TEXT    NOT NULL DEFAULT '',
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (kind, value)
  ) STRICT;
  CREATE INDEX revocations_expires_at ON revocations (expires_at);
  `,
  // 4: federation relationships (issue 16 item 3): where each foreign trust domain's bundle is
  // fetched from and how, and the state of the refreshes; the bundles stay in `bundles`
  `
  CREATE TABLE federation_relationships (
    trust_domain            TEXT    NOT NULL PRIMARY KEY CHECK (trust_domain <> ''),
    bundle_endpoint_url     TEXT    NOT NULL CHECK (bundle_endpoint_url <> ''),
    bundle_endpoint_profile TEXT    NOT NULL CHECK (bundle_endpoint_profile IN ('https_web', 'https_spiffe')),
    endpoint_spiffe_id      TEXT    NOT NULL DEFAULT '',
    created_at              INTEGER NOT NULL,
    last_refresh_at         INTEGER,
    next_refresh_at         INTEGER NOT NULL,
    last_error              TEXT    NOT NULL DEFAULT '',
    CHECK ((bundle_endpoint_profile = 'https_spiffe') = (endpoint_spiffe_id <> ''))
  ) STRICT;
  `,
  // 5: the audit trail (issue 14 item 7): append-only, hash-chained records (server/audit/);
  // hashes are computed by the server, never by SQL; the triggers refuse UPDATE and DELETE
  // (a hand edit that drops them is what the chain detects)
  `
  CREATE TABLE audit_records (
    seq           INTEGER NOT NULL PRIMARY KEY CHECK (seq >= 1),
    at            INTEGER NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind <> ''),
    decision      TEXT    NOT NULL CHECK (decision IN ('allow', 'deny', 'hold', 'info')),
    spiffe_id     TEXT    NOT NULL DEFAULT '',
    task_id       TEXT    NOT NULL DEFAULT '',
    serial_or_jti TEXT    NOT NULL DEFAULT '',
    actor         TEXT    NOT NULL DEFAULT '',
    details       TEXT    NOT NULL DEFAULT '{}',
    prev_hash     TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    hash          TEXT    NOT NULL CHECK (length(hash) = 64)
  ) STRICT;
  CREATE INDEX audit_records_at ON audit_records (at);
  CREATE INDEX audit_records_spiffe_id ON audit_records (spiffe_id, seq);
  CREATE INDEX audit_records_task_id ON audit_records (task_id, seq);
  CREATE INDEX audit_records_serial_or_jti ON audit_records (serial_or_jti, seq);
  CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
  CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
  `,
  // 6: policies (issue 14): versioned Cedar policy sets; operator metadata on entries; the
  // 'drifted' task outcome (SQLite cannot change a CHECK in place: the three task tables are
  // rebuilt, children first so no ON DELETE CASCADE fires, and renamed back)
  `
  CREATE TABLE policy_versions (
    version    INTEGER NOT NULL PRIMARY KEY CHECK (version > 0),
    text       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL CHECK (length(sha256) = 64),
    created_at INTEGER NOT NULL,
    -- who set it: the admin caller as the admin socket saw it (uid/pid/exe or SPIFFE ID)
    admin_caller TEXT  NOT NULL DEFAULT '',
    -- the @id of every policy, in order (JSON array), so listing never recompiles
    policy_ids   TEXT  NOT NULL DEFAULT '[]' CHECK (json_valid(policy_ids))
  ) STRICT;

  ALTER TABLE registration_entries ADD COLUMN owner TEXT NOT NULL DEFAULT '';
  ALTER TABLE registration_entries ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
  ALTER TABLE registration_entries ADD COLUMN risk TEXT NOT NULL DEFAULT '' CHECK (risk IN ('', 'low', 'medium', 'high'));

  CREATE TABLE tasks_v4 (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    state        TEXT    NOT NULL CHECK (state IN ('active', 'ended')),
    outcome      TEXT    NOT NULL DEFAULT '' CHECK (outcome IN ('', 'completed', 'failed', 'cancelled', 'expired', 'process_exited', 'drifted')),
    end_reason   TEXT    NOT NULL DEFAULT '',
    spiffe_id    TEXT    NOT NULL CHECK (spiffe_id <> ''),
    entry_id     TEXT    NOT NULL,
    agent_id     TEXT    NOT NULL,
    process_key  TEXT    NOT NULL,
    subject      TEXT    NOT NULL CHECK (subject <> ''),
    purpose      TEXT    NOT NULL,
    scope        TEXT    NOT NULL CHECK (json_valid(scope)),
    act_chain    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(act_chain)),
    parent_txn   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    deadline     INTEGER NOT NULL,
    ended_at     INTEGER,
    CHECK ((state = 'ended') = (ended_at IS NOT NULL AND outcome <> ''))
  ) STRICT;
  INSERT INTO tasks_v4 SELECT id, state, outcome, end_reason, spiffe_id, entry_id, agent_id, process_key, subject,
    purpose, scope, act_chain, parent_txn, created_at, deadline, ended_at FROM tasks;
  CREATE TABLE task_credentials_v4 (
    task_id    TEXT    NOT NULL REFERENCES tasks_v4 (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('txn', 'jwt', 'x509')),
    credential TEXT    NOT NULL CHECK (credential <> ''),
    audience   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(audience)),
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, kind, credential)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO task_credentials_v4 SELECT task_id, kind, credential, audience, issued_at, expires_at FROM task_credentials;
  CREATE TABLE task_events_v4 (
    id      INTEGER NOT NULL PRIMARY KEY,
    task_id TEXT    NOT NULL REFERENCES tasks_v4 (id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    event   TEXT    NOT NULL CHECK (event <> ''),
    detail  TEXT    NOT NULL DEFAULT ''
  ) STRICT;
  INSERT INTO task_events_v4 SELECT id, task_id, at, event, detail FROM task_events;
  DROP TABLE task_events;
  DROP TABLE task_credentials;
  DROP TABLE tasks;
  ALTER TABLE tasks_v4 RENAME TO tasks;
  ALTER TABLE task_credentials_v4 RENAME TO task_credentials;
  ALTER TABLE task_events_v4 RENAME TO task_events;
  CREATE INDEX tasks_state_deadline ON tasks (state, deadline);
  CREATE INDEX tasks_spiffe_id ON tasks (spiffe_id, created_at);
  CREATE INDEX task_events_task_id ON task_events (task_id, id);
  `,
  // 7: approvals (human approval of requests held by an @approval("required") policy)
  `
  CREATE TABLE approvals (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    principal    TEXT    NOT NULL CHECK (principal <> ''),
    action       TEXT    NOT NULL CHECK (action <> ''),
    resource     TEXT    NOT NULL CHECK (resource <> ''),
    task_id      TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    reason       TEXT    NOT NULL DEFAULT '',
    requested_at INTEGER NOT NULL,
    decided_at   INTEGER,
    decided_by   TEXT    NOT NULL DEFAULT '',
    valid_until  INTEGER NOT NULL,
    CHECK ((status = 'pending') = (decided_at IS NULL))
  ) STRICT;
  CREATE INDEX approvals_key ON approvals (principal, action, resource, task_id, status, valid_until);
  CREATE INDEX approvals_status ON approvals (status, requested_at);
  `,
  // 8: entry expiry (SPIRE's -entryExpiry): unix seconds, 0 = never; expired entries are pruned
  `
  ALTER TABLE registration_entries ADD COLUMN entry_expiry INTEGER NOT NULL DEFAULT 0 CHECK (entry_expiry >= 0);
  CREATE INDEX registration_entries_entry_expiry ON registration_entries (entry_expiry) WHERE entry_expiry > 0;
  `,
  // 9: change counters (several servers on one file, issue 15): one row per kind of watched data,
  // bumped by triggers in the writing transaction, whoever writes (a server, another process, a
  // hand edit); watchChanges reads them when PRAGMA data_version moved. An update that changes
  // only bookkeeping (an agent's last_seen, a bundle's updated_at) is not a change.
  // (A later migration that rebuilds one of these tables must create its triggers again.)
  `
  CREATE TABLE sigil_counters (
    name  TEXT    NOT NULL PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0
  ) STRICT, WITHOUT ROWID;
  INSERT INTO sigil_counters (name) VALUES ('changed:entries'), ('changed:agents'), ('changed:bundles'),
    ('changed:revocations'), ('changed:policies'), ('changed:tasks'), ('changed:approvals');
${changeTriggers('registration_entries', 'entries')}
${changeTriggers('attested_agents', 'agents', ['attestation_type', 'serial_number', 'expires_at', 'banned'])}
${changeTriggers('bundles', 'bundles', ['spiffe_bundle_json', 'sequence_number'])}
${changeTriggers('revocations', 'revocations')}
${changeTriggers('policy_versions', 'policies')}
${changeTriggers('tasks', 'tasks')}
${changeTriggers('approvals', 'approvals')}
  `,
]

/**
 * Migration 9's triggers on `table`: every inserted or deleted row bumps `changed:<kind>`, and so does
 * an updated row — when `watched` is given, only one whose watched columns changed. Frozen with
 * migration 9 (a later migration writes its own SQL).
 */
function changeTriggers(table: string, kind: string, watched?: readonly string[]): string {
  const bump = `UPDATE sigil_counters SET value = value + 1 WHERE name = 'changed:${kind}';`
  const when = watched ? ` WHEN ${watched.map((c) => `OLD.${c} IS NOT NEW.${c}`).join(' OR ')}` : ''
  return `
  CREATE TRIGGER ${table}_inserted AFTER INSERT ON ${table} BEGIN ${bump} END;
  CREATE TRIGGER ${table}_updated AFTER UPDATE ON ${table}${when} BEGIN ${bump} END;
  CREATE TRIGGER ${table}_deleted AFTER DELETE ON ${table} BEGIN ${bump} END;`
}
