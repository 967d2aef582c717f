-- The news archive in SQLite. Version 1.
-- Events are read from the archive's Markdown files; everything under "search" is derived
-- from them and rebuilt in the same transaction as the index run that changed them.

-- One row per event file. The path (news/YYYY/MM/D/<slug>.md) is the event's identity.
-- mtime_ns, size and sha256 describe the file as last read, so a run re-reads only changes.
CREATE TABLE IF NOT EXISTS events (
    id        INTEGER PRIMARY KEY,
    path      TEXT NOT NULL UNIQUE,
    date      TEXT NOT NULL,             -- YYYY-MM-DD
    headline  TEXT NOT NULL,
    mtime_ns  INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    sha256    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_date ON events(date);
-- "On this day": one month and day in every year (substr(date, 6) is MM-DD).
CREATE INDEX IF NOT EXISTS events_by_month_day ON events(substr(date, 6));

CREATE TABLE IF NOT EXISTS sources (
    event_id  INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    name      TEXT NOT NULL,
    url       TEXT,                      -- NULL when the archive names the source without a link
    PRIMARY KEY (event_id, position)
) WITHOUT ROWID;

-- Related lines: the linked event may or may not be in the archive.
CREATE TABLE IF NOT EXISTS related (
    event_id  INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    path      TEXT NOT NULL,             -- news/YYYY/MM/D/<slug>.md, which also gives its date
    headline  TEXT NOT NULL,
    contexts  TEXT NOT NULL,             -- the topics the two events share, comma-separated
    PRIMARY KEY (event_id, position)
) WITHOUT ROWID;

-- An event's own topics: the union of the contexts on its Related lines.
CREATE TABLE IF NOT EXISTS topics (
    event_id  INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    topic     TEXT NOT NULL,
    PRIMARY KEY (event_id, topic)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS topics_by_name ON topics(topic);

-- One row per index run, and the files it rejected or warned about.
CREATE TABLE IF NOT EXISTS index_runs (
    id           INTEGER PRIMARY KEY,
    started_at   TEXT NOT NULL,          -- UTC, ISO 8601
    finished_at  TEXT,
    archive      TEXT NOT NULL,
    requested_by TEXT,                   -- "cli", or the Discord user who asked
    scanned      INTEGER NOT NULL DEFAULT 0,
    added        INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    removed      INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS index_problems (
    run_id    INTEGER NOT NULL REFERENCES index_runs(id) ON DELETE CASCADE,
    path      TEXT NOT NULL,
    line      INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    rejected  INTEGER NOT NULL           -- 1: the file was skipped; 0: read, with a warning
);
CREATE INDEX IF NOT EXISTS index_problems_by_run ON index_problems(run_id);

-- Search: BM25 posting lists, one row per term. `doc` numbers are dense (0..N-1) so the
-- searcher can score into flat arrays; they are renumbered whenever the index is rebuilt.
CREATE TABLE IF NOT EXISTS search_docs (
    doc       INTEGER PRIMARY KEY,
    event_id  INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    length    INTEGER NOT NULL,          -- tokens in the headline and topics
    day       INTEGER NOT NULL           -- YYYYMMDD, for date filters and newest-first ties
);
-- Every foreign key has an index: without it, each deleted event scans the whole table.
CREATE INDEX IF NOT EXISTS search_docs_by_event ON search_docs(event_id);
CREATE TABLE IF NOT EXISTS search_terms (
    term      TEXT PRIMARY KEY,
    variant   TEXT NOT NULL,             -- spelling-folded key (see store/tokens.py)
    docs      BLOB NOT NULL,             -- int32 doc numbers, ascending
    counts    BLOB NOT NULL              -- int32 term frequency in each of those docs
) WITHOUT ROWID;

-- The bot's own settings; `index_generation` grows by one in every index run that changes
-- the store, so long-running readers know when to load the new search index.
CREATE TABLE IF NOT EXISTS settings (
    key       TEXT PRIMARY KEY,
    value     TEXT NOT NULL
) WITHOUT ROWID;

-- Per-server settings, changed with /settings by members with Manage Server.
-- The daily "on this day" post is on when daily_channel_id is set.
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id         INTEGER PRIMARY KEY,
    daily_channel_id INTEGER,            -- NULL: no daily post
    daily_time       TEXT,               -- HH:MM, local time in `timezone`
    timezone         TEXT NOT NULL DEFAULT 'UTC',  -- an IANA name, e.g. Europe/Berlin
    daily_since      TEXT,               -- UTC, ISO 8601: when the post was set up (no catch-up before)
    reindex_role_id  INTEGER,            -- members with this role may /reindex (besides Manage Server)
    updated_by       TEXT,
    updated_at       TEXT                -- UTC, ISO 8601
);

-- One row per server and local day: claimed before the post is sent, so a restart never
-- posts twice; then marked sent, or given the reason it could not be posted.
CREATE TABLE IF NOT EXISTS daily_posts (
    guild_id    INTEGER NOT NULL,
    day         TEXT NOT NULL,           -- the server's local date, YYYY-MM-DD
    channel_id  INTEGER NOT NULL,
    claimed_at  TEXT NOT NULL,           -- UTC, ISO 8601
    sent_at     TEXT,                    -- NULL until Discord accepted the message
    message_id  INTEGER,
    late_min    INTEGER NOT NULL DEFAULT 0,  -- minutes after the configured time
    error       TEXT,                    -- why it was not posted (channel gone, no permission)
    PRIMARY KEY (guild_id, day)
) WITHOUT ROWID;

-- Follows (/follow): new events on a search or a topic posted to a channel after index runs.
-- Event ids are never reused (see `last_event_id` in store/ingest.py), so "new since the follow
-- last looked" is "an id above seen_up_to"; an updated event keeps its id and is not new.
CREATE TABLE IF NOT EXISTS follows (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    channel_id   INTEGER NOT NULL,
    query        TEXT,                   -- words every new event must have (NULL: the topic alone)
    topic        TEXT,                   -- a topic the new event must have (NULL: the query alone)
    exclude      TEXT,                   -- words that drop an event, as typed (NULL: none)
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,          -- UTC, ISO 8601
    created_after INTEGER NOT NULL,      -- the highest event id when it was created: those are never posted
    seen_up_to   INTEGER NOT NULL,       -- the highest event id it has looked at
    paused       TEXT,                   -- NULL: on; else why it is paused (by whom, or the channel's problem)
    paused_at    TEXT
);
CREATE INDEX IF NOT EXISTS follows_by_guild ON follows(guild_id);

-- One row per follow and event: claimed (committed) before the message is sent, so a restart
-- never posts it twice; then marked sent, or given the reason it was not. `batch` is the follow's
-- seen_up_to after the claim: the events of one message. No foreign key to events: the record
-- outlives an event removed later (and its id is never given to another event).
CREATE TABLE IF NOT EXISTS follow_posts (
    follow_id   INTEGER NOT NULL REFERENCES follows(id) ON DELETE CASCADE,
    event_id    INTEGER NOT NULL,
    batch       INTEGER NOT NULL,
    claimed_at  TEXT NOT NULL,           -- UTC, ISO 8601
    sent_at     TEXT,                    -- NULL until Discord accepted the message
    message_id  INTEGER,
    error       TEXT,                    -- why it was not posted (channel gone, no permission, bot stopped)
    PRIMARY KEY (follow_id, event_id)
) WITHOUT ROWID;
