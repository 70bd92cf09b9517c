-- Shared by both dialects: {{time}}, {{json}}, {{serial}} and {{epoch}} are
-- replaced by the dialect's column types before the file runs (see
-- migrate.go), so the schema is written once.

CREATE TABLE devices (
    id                 TEXT PRIMARY KEY,
    display_name       TEXT NOT NULL DEFAULT '',
    customer           TEXT NOT NULL DEFAULT '',
    site               TEXT NOT NULL DEFAULT '',
    model              TEXT NOT NULL DEFAULT '',
    gateway_id         TEXT NOT NULL DEFAULT '',
    agent_version      TEXT NOT NULL DEFAULT '',
    cert_subject       TEXT NOT NULL DEFAULT '',
    cert_serial        TEXT NOT NULL DEFAULT '',
    cert_expires_at    {{time}},
    state              TEXT NOT NULL DEFAULT '',
    last_seen          {{time}},
    heartbeat_interval INTEGER NOT NULL DEFAULT 0,
    metrics            {{json}} NOT NULL DEFAULT '[]',
    properties         {{json}} NOT NULL DEFAULT '[]',
    -- The default only satisfies the heartbeat upsert's insert arm, which
    -- never inserts: every path that creates a device sets created_at.
    created_at         {{time}} NOT NULL DEFAULT {{epoch}}
);
CREATE INDEX devices_customer_site ON devices (customer, site);

CREATE TABLE revoked_certs (
    serial     TEXT PRIMARY KEY,
    reason     TEXT NOT NULL DEFAULT '',
    revoked_at {{time}} NOT NULL
);

-- One row per applied device message: the idempotency record.
CREATE TABLE messages (
    device_id  TEXT NOT NULL,
    message_id TEXT NOT NULL,
    op         TEXT NOT NULL,
    result     {{json}},
    created_at {{time}} NOT NULL,
    PRIMARY KEY (device_id, message_id)
);
CREATE INDEX messages_created_at ON messages (created_at);

CREATE TABLE heartbeats (
    seq         {{serial}},
    device_id   TEXT NOT NULL REFERENCES devices (id),
    sent_at     {{time}} NOT NULL,
    received_at {{time}} NOT NULL,
    state       TEXT NOT NULL,
    metrics     {{json}} NOT NULL,
    properties  {{json}} NOT NULL
);
CREATE INDEX heartbeats_device_time ON heartbeats (device_id, sent_at, seq);

CREATE TABLE alarms (
    seq             {{serial}},
    id              TEXT NOT NULL UNIQUE,
    device_id       TEXT NOT NULL REFERENCES devices (id),
    code            TEXT NOT NULL,
    severity        TEXT NOT NULL,
    severity_rank   INTEGER NOT NULL,
    text            TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    raised_at       {{time}} NOT NULL,
    cleared_at      {{time}},
    acknowledged_by TEXT NOT NULL DEFAULT '',
    acknowledged_at {{time}},
    cleared_by      TEXT NOT NULL DEFAULT '',
    comment         TEXT NOT NULL DEFAULT '',
    context         {{json}} NOT NULL DEFAULT '[]'
);
-- A code is open at most once per device; reports of an open code are
-- absorbed by ON CONFLICT against this index.
CREATE UNIQUE INDEX alarms_open ON alarms (device_id, code) WHERE state <> 'cleared';
CREATE INDEX alarms_raised ON alarms (raised_at, seq);
CREATE INDEX alarms_device ON alarms (device_id, raised_at, seq);

CREATE TABLE instructions (
    seq         {{serial}},
    id          TEXT NOT NULL UNIQUE,
    device_id   TEXT NOT NULL REFERENCES devices (id),
    type        TEXT NOT NULL,
    parameters  {{json}} NOT NULL DEFAULT '[]',
    status      TEXT NOT NULL,
    request_id  TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  {{time}} NOT NULL,
    expires_at  {{time}} NOT NULL,
    updated_at  {{time}} NOT NULL,
    exit_code   INTEGER NOT NULL DEFAULT 0,
    output      TEXT NOT NULL DEFAULT '',
    finished_at {{time}},
    upload_id   TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX instructions_request ON instructions (request_id) WHERE request_id <> '';
CREATE INDEX instructions_device_status ON instructions (device_id, status, created_at, seq);
CREATE INDEX instructions_created ON instructions (created_at, seq);
CREATE INDEX instructions_open_expiry ON instructions (expires_at) WHERE status IN ('queued', 'delivered');

CREATE TABLE uploads (
    seq            {{serial}},
    id             TEXT NOT NULL UNIQUE,
    device_id      TEXT NOT NULL REFERENCES devices (id),
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL,
    state          TEXT NOT NULL,
    size           BIGINT NOT NULL,
    received       BIGINT NOT NULL DEFAULT 0,
    sha256         TEXT NOT NULL,
    compression    TEXT NOT NULL,
    instruction_id TEXT NOT NULL DEFAULT '',
    created_at     {{time}} NOT NULL,
    committed_at   {{time}}
);
CREATE INDEX uploads_device ON uploads (device_id, state, name);
CREATE INDEX uploads_created ON uploads (created_at, seq);

CREATE TABLE audit (
    seq       BIGINT PRIMARY KEY,
    time      {{time}} NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    code      TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_time ON audit (time);

-- The single row every appender locks, so replicas extend one chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    {{time}} NOT NULL
);

CREATE TABLE replays (
    key   TEXT PRIMARY KEY,
    until {{time}} NOT NULL
);
CREATE INDEX replays_until ON replays (until);
