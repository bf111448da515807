-- Webhook deliveries waiting to be sent: written in the notifier's transaction with its
-- cursor, so a batch survives a crash or deploy and is sent at least once, always under the
-- same `webhook-id`. A row is claimed (claimed_until) before it is sent, so two processes
-- never send it at once; it is deleted once delivered or given up.
CREATE TABLE webhook_outbox (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id           TEXT NOT NULL UNIQUE,  -- the `webhook-id` header
    hook             TEXT NOT NULL,         -- hex SHA-256 of the webhook's URL (+ `#n` for a repeated URL)
    body             TEXT NOT NULL,         -- the exact bytes sent and signed
    events           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,      -- unix milliseconds
    claimed_until    INTEGER,               -- unix milliseconds; NULL = free
    last_error       TEXT,
    created_at       INTEGER NOT NULL       -- unix milliseconds
) STRICT;
CREATE INDEX webhook_outbox_by_hook ON webhook_outbox (hook, seq);

-- The last event id handed to the outbox (one row); a fresh database starts from the newest.
CREATE TABLE webhook_cursor (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id  INTEGER NOT NULL
) STRICT;
