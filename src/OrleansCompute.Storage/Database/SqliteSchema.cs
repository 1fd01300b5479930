namespace OrleansCompute.Storage.Database;

/// <summary>The tables of a store file. Every statement is idempotent: opening an existing file changes nothing.</summary>
internal static class SqliteSchema
{
    /// <summary>
    /// Bumped, with a migration, whenever a table below changes shape (2: the lease book, added to a version 1 file as
    /// it opens; 3: the book's tenant index covers live records only, replacing the index over every record; 4: Orleans
    /// cluster membership, added to an older file as it opens).
    /// </summary>
    public const int Version = 4;

    public const string Create = """
        CREATE TABLE IF NOT EXISTS grain_state (
            storage_name TEXT    NOT NULL,
            state_name   TEXT    NOT NULL,
            grain_id     TEXT    NOT NULL,
            etag         INTEGER NOT NULL,
            payload      BLOB    NOT NULL,
            PRIMARY KEY (storage_name, state_name, grain_id)
        ) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS reminders (
            grain_id      TEXT    NOT NULL,
            reminder_name TEXT    NOT NULL,
            grain_hash    INTEGER NOT NULL,
            start_at      INTEGER NOT NULL,
            period        INTEGER NOT NULL,
            etag          INTEGER NOT NULL,
            PRIMARY KEY (grain_id, reminder_name)
        ) WITHOUT ROWID;

        CREATE INDEX IF NOT EXISTS reminders_by_grain_hash ON reminders (grain_hash);

        CREATE TABLE IF NOT EXISTS counters (
            name  TEXT    NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS lease_book (
            lease_id BLOB    NOT NULL PRIMARY KEY,
            pool_key TEXT    NOT NULL,
            tenant   TEXT,
            live     INTEGER NOT NULL,
            payload  BLOB    NOT NULL
        ) WITHOUT ROWID;

        -- Both indexes cover live records only: a few thousand entries that stay in the page cache. An index over
        -- every record by tenant put each booking at one of a thousand tenants' insertion points, so every commit
        -- rewrote hundreds of scattered index pages.
        CREATE INDEX IF NOT EXISTS lease_book_live_by_pool ON lease_book (pool_key) WHERE live = 1;
        DROP INDEX IF EXISTS lease_book_by_tenant;
        CREATE INDEX IF NOT EXISTS lease_book_live_by_tenant ON lease_book (tenant) WHERE live = 1;

        -- Orleans cluster membership: one row per silo (its address, ip:port@generation) and one table version per
        -- cluster. The entry itself is the payload; status and times are columns for the cleanup's DELETE, and
        -- i_am_alive is the heartbeat, the one value written without an ETag.
        CREATE TABLE IF NOT EXISTS membership_version (
            cluster_id TEXT    NOT NULL PRIMARY KEY,
            version    INTEGER NOT NULL,
            etag       INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS membership (
            cluster_id TEXT    NOT NULL,
            silo       TEXT    NOT NULL,
            etag       INTEGER NOT NULL,
            status     INTEGER NOT NULL,
            i_am_alive INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            payload    BLOB    NOT NULL,
            PRIMARY KEY (cluster_id, silo)
        ) WITHOUT ROWID;

        INSERT OR IGNORE INTO counters (name, value) VALUES ('last_etag', 0);
        """;
}
