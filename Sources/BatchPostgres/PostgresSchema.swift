/// The PostgreSQL schema: the SQLite schema's tables, constraints, foreign
/// keys and partial indexes (as of its v8), in PostgreSQL's types. Since v5
/// the keys from item to job and from result to item are kept by
/// statement-level triggers (a check and a cascade per statement, not per
/// row), the chunk's to its job by a declared foreign key. Times are
/// `timestamptz` on the server's clock; bytes are `bytea`.
///
/// Append-only, as for SQLite: a shipped migration is never edited; a
/// change is a new entry. `PostgresStore` applies them in one transaction
/// under an advisory lock, so daemons starting at once migrate once.
enum PostgresSchema {
    /// The advisory lock key of migrations ("btch").
    static let migrationLock: Int64 = 0x6274_6368

    static let migrations: [(name: String, sql: String)] = [
        ("v1: jobs, items, chunks, results, daemons", """
            CREATE TABLE job (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                command text[] NOT NULL,
                command_bytes bytea NOT NULL,
                working_directory bytea NOT NULL,
                environment bytea NOT NULL,
                chunk_size integer NOT NULL CHECK (chunk_size >= 0),
                nul_separated boolean NOT NULL,
                stream boolean NOT NULL,
                retries integer NOT NULL CHECK (retries >= 0),
                retry_delay double precision NOT NULL CHECK (retry_delay >= 0),
                timeout_seconds double precision CHECK (timeout_seconds > 0),
                timeout_percent double precision CHECK (timeout_percent > 0),
                max_output bigint NOT NULL CHECK (max_output >= 0),
                halt_when text CHECK (halt_when IN ('now', 'soon')),
                halt_fail_count bigint CHECK (halt_fail_count >= 1),
                halt_fail_percent double precision CHECK (halt_fail_percent > 0 AND halt_fail_percent <= 100),
                halt_reason text,
                state text NOT NULL CHECK (state IN ('open', 'sealed', 'complete', 'failed', 'cancelled')),
                next_sequence bigint NOT NULL DEFAULT 1,
                item_count bigint NOT NULL DEFAULT 0 CHECK (item_count >= 0),
                next_line bigint NOT NULL DEFAULT 1 CHECK (next_line BETWEEN 1 AND item_count + 1),
                finished_count bigint NOT NULL DEFAULT 0 CHECK (finished_count BETWEEN 0 AND item_count),
                failed_count bigint NOT NULL DEFAULT 0 CHECK (failed_count BETWEEN 0 AND finished_count),
                created_at timestamptz NOT NULL DEFAULT now(),
                sealed_at timestamptz,
                finished_at timestamptz,
                -- Who submitted it: the database role (row-level security
                -- decides who may read and run it).
                owner_role name NOT NULL DEFAULT current_user,
                submitter_host text,
                submitter_pid integer,
                submitter_start bigint,
                submitter_machine text,
                warning text,
                warning_at timestamptz,
                max_running integer CHECK (max_running >= 1),
                max_running_percent double precision CHECK (max_running_percent > 0),
                group_size integer CHECK (group_size >= 0),
                item_token bytea,
                column_separator text,
                priority integer NOT NULL DEFAULT 0,
                weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0),
                rate_per_second double precision CHECK (rate_per_second > 0),
                rate_next_at timestamptz,
                CHECK (state <> 'complete' OR finished_count = item_count),
                CHECK ((halt_when IS NULL) = (halt_fail_count IS NULL AND halt_fail_percent IS NULL))
            );
            CREATE INDEX job_runnable ON job (id) WHERE state IN ('open', 'sealed');

            CREATE TABLE item (
                job_id bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
                line bigint NOT NULL CHECK (line >= 1),
                data bytea NOT NULL,
                PRIMARY KEY (job_id, line)
            );

            CREATE TABLE chunk (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                job_id bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
                first_line bigint NOT NULL,
                last_line bigint NOT NULL,
                state text NOT NULL CHECK (state IN ('leased', 'released', 'done')),
                owner text,
                lease_expires_at timestamptz,
                fence bigint NOT NULL CHECK (fence >= 1),
                slot integer CHECK (slot >= 1),
                CHECK (1 <= first_line AND first_line <= last_line),
                CHECK ((state = 'leased') = (owner IS NOT NULL AND lease_expires_at IS NOT NULL))
            );
            CREATE INDEX chunk_released ON chunk (job_id, first_line) WHERE state = 'released';
            CREATE INDEX chunk_owner ON chunk (owner) WHERE state = 'leased';
            CREATE INDEX chunk_expiry ON chunk (lease_expires_at) WHERE state = 'leased';
            CREATE INDEX chunk_leased_job ON chunk (job_id) WHERE state = 'leased';

            CREATE TABLE result (
                job_id bigint NOT NULL,
                line bigint NOT NULL,
                sequence bigint NOT NULL CHECK (sequence >= 1),
                status text NOT NULL CHECK (status IN ('succeeded', 'failed')),
                exit_status integer,
                signal integer,
                output bytea NOT NULL,
                error_output bytea NOT NULL,
                reason text,
                attempts integer NOT NULL CHECK (attempts >= 1),
                started_at timestamptz NOT NULL,
                finished_at timestamptz NOT NULL,
                group_first bigint,
                group_last bigint,
                PRIMARY KEY (job_id, line),
                UNIQUE (job_id, sequence),
                FOREIGN KEY (job_id, line) REFERENCES item (job_id, line) ON DELETE CASCADE
            );

            CREATE TABLE daemon (
                id text PRIMARY KEY,
                host text NOT NULL,
                pid integer NOT NULL,
                process_start bigint NOT NULL,
                workers integer NOT NULL CHECK (workers >= 1),
                started_at timestamptz NOT NULL,
                heartbeat_at timestamptz NOT NULL DEFAULT now(),
                role name NOT NULL DEFAULT current_user,
                machine text
            );
            """),
        ("v2: change notifications", """
            -- Wake-ups for idle daemons and followers (LISTEN batch_changes): one
            -- notification per transaction that changes a job or a chunk's state
            -- (the server folds identical notifications of one transaction into
            -- one). Items and results always come with an update of their job;
            -- lease renewals and heartbeats wake nobody.
            CREATE FUNCTION batch_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('batch_changes', '');
                RETURN NULL;
            END
            $$;
            CREATE TRIGGER job_changed AFTER INSERT OR UPDATE OR DELETE ON job
                FOR EACH STATEMENT EXECUTE FUNCTION batch_notify_change();
            CREATE TRIGGER chunk_changed AFTER INSERT OR DELETE OR UPDATE OF state ON chunk
                FOR EACH STATEMENT EXECUTE FUNCTION batch_notify_change();
            """),
        ("v3: roles and row-level security", """
            -- Three group roles (NOLOGIN): a person or a host logs in as a role
            -- of its own that is a member of one of them. The schema's owner (the
            -- role that migrated it) is the administrator and bypasses all this.
            --   batch_submitter: submits, follows, cancels and removes its own
            --     jobs; sees no one else's; never writes chunks or results.
            --   batch_daemon: claims and runs every job, records results.
            --   batch_reader: reads everything (dashboards, monitoring).
            -- Roles belong to the whole server: an existing one is reused.
            DO $$
            DECLARE
                role_name text;
            BEGIN
                FOREACH role_name IN ARRAY ARRAY['batch_submitter', 'batch_daemon', 'batch_reader'] LOOP
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
                        BEGIN
                            EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
                        EXCEPTION
                            WHEN duplicate_object OR unique_violation THEN NULL;
                            WHEN insufficient_privilege THEN
                                RAISE EXCEPTION 'batch needs the group role % (CREATE ROLE % NOLOGIN): create it, or open the database once as a role with CREATEROLE', role_name, role_name;
                        END;
                    END IF;
                END LOOP;
            END
            $$;

            GRANT SELECT ON batch_migration TO batch_submitter, batch_daemon, batch_reader;
            GRANT SELECT, INSERT, UPDATE, DELETE ON job, item TO batch_submitter;
            GRANT SELECT ON chunk, result, daemon TO batch_submitter;
            GRANT SELECT, INSERT, UPDATE, DELETE ON job, item, chunk, result, daemon TO batch_daemon;
            GRANT SELECT ON job, item, chunk, result, daemon TO batch_reader;

            ALTER TABLE job ENABLE ROW LEVEL SECURITY;
            CREATE POLICY submitter_own ON job TO batch_submitter
                USING (owner_role = current_user) WITH CHECK (owner_role = current_user);
            CREATE POLICY daemon_all ON job TO batch_daemon USING (true);
            CREATE POLICY reader_all ON job FOR SELECT TO batch_reader USING (true);

            -- The rows of a job follow the job: the subquery sees only the jobs
            -- the caller's own policies on `job` let it see.
            ALTER TABLE item ENABLE ROW LEVEL SECURITY;
            CREATE POLICY submitter_own ON item TO batch_submitter
                USING (EXISTS (SELECT 1 FROM job WHERE job.id = item.job_id));
            CREATE POLICY daemon_all ON item TO batch_daemon USING (true);
            CREATE POLICY reader_all ON item FOR SELECT TO batch_reader USING (true);

            ALTER TABLE chunk ENABLE ROW LEVEL SECURITY;
            CREATE POLICY submitter_own ON chunk FOR SELECT TO batch_submitter
                USING (EXISTS (SELECT 1 FROM job WHERE job.id = chunk.job_id));
            CREATE POLICY daemon_all ON chunk TO batch_daemon USING (true);
            CREATE POLICY reader_all ON chunk FOR SELECT TO batch_reader USING (true);

            ALTER TABLE result ENABLE ROW LEVEL SECURITY;
            CREATE POLICY submitter_own ON result FOR SELECT TO batch_submitter
                USING (EXISTS (SELECT 1 FROM job WHERE job.id = result.job_id));
            CREATE POLICY daemon_all ON result TO batch_daemon USING (true);
            CREATE POLICY reader_all ON result FOR SELECT TO batch_reader USING (true);

            -- A cancelled job's chunks are handed back by the schema's owner: the
            -- submitter who cancels may not write chunks itself.
            CREATE FUNCTION batch_release_cancelled_chunks() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
            BEGIN
                UPDATE chunk SET state = 'released', owner = NULL, lease_expires_at = NULL
                WHERE job_id = NEW.id AND state = 'leased';
                RETURN NULL;
            END
            $$;
            CREATE TRIGGER job_cancelled AFTER UPDATE OF state ON job FOR EACH ROW
                WHEN (NEW.state = 'cancelled' AND OLD.state IN ('open', 'sealed'))
                EXECUTE FUNCTION batch_release_cancelled_chunks();
            """),
        // A CLI talking to a daemon of another release says so.
        ("v4: daemons record their release", """
            ALTER TABLE daemon ADD COLUMN version text;
            """),
        // Items and results are written a thousand at a time; a declared
        // foreign key checks (and locks) its parent row by a query per row,
        // which cost PostgreSQL two thirds of each insert and a quarter of a
        // stream job's time. The same rules, one query per statement.
        ("v5: referential checks once per statement", """
            -- Every item has its job and every result its item, checked once
            -- per statement over the rows it inserted, each job row locked
            -- FOR KEY SHARE (as a foreign key's check locks it: no delete of
            -- the job can pass a writer). Items are deleted only with their
            -- job: batch's roles no longer delete items themselves.
            ALTER TABLE item DROP CONSTRAINT item_job_id_fkey;
            ALTER TABLE result DROP CONSTRAINT result_job_id_line_fkey;
            REVOKE DELETE ON item FROM batch_submitter, batch_daemon;

            CREATE FUNCTION batch_check_item_jobs() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
            BEGIN
                PERFORM 1 FROM job WHERE id IN (SELECT DISTINCT job_id FROM inserted) FOR KEY SHARE;
                IF EXISTS (SELECT 1 FROM (SELECT DISTINCT job_id FROM inserted) AS wanted
                           WHERE NOT EXISTS (SELECT 1 FROM job WHERE job.id = wanted.job_id)) THEN
                    RAISE EXCEPTION 'insert into item: its job does not exist' USING ERRCODE = 'foreign_key_violation';
                END IF;
                RETURN NULL;
            END
            $$;
            CREATE TRIGGER item_has_job AFTER INSERT ON item REFERENCING NEW TABLE AS inserted
                FOR EACH STATEMENT EXECUTE FUNCTION batch_check_item_jobs();

            CREATE FUNCTION batch_check_result_items() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
            BEGIN
                PERFORM 1 FROM job WHERE id IN (SELECT DISTINCT job_id FROM inserted) FOR KEY SHARE;
                IF EXISTS (SELECT 1 FROM inserted
                           WHERE NOT EXISTS (SELECT 1 FROM item WHERE item.job_id = inserted.job_id AND item.line = inserted.line)) THEN
                    RAISE EXCEPTION 'insert into result: its item does not exist' USING ERRCODE = 'foreign_key_violation';
                END IF;
                RETURN NULL;
            END
            $$;
            CREATE TRIGGER result_has_item AFTER INSERT ON result REFERENCING NEW TABLE AS inserted
                FOR EACH STATEMENT EXECUTE FUNCTION batch_check_result_items();

            -- ON DELETE CASCADE, once per statement: a removed job takes its
            -- results and items with it (by the job's key range, not row by
            -- row), also when a submitter removes it.
            CREATE FUNCTION batch_delete_job_rows() RETURNS trigger
                LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
            BEGIN
                DELETE FROM result WHERE job_id IN (SELECT id FROM removed);
                DELETE FROM item WHERE job_id IN (SELECT id FROM removed);
                RETURN NULL;
            END
            $$;
            CREATE TRIGGER job_removed AFTER DELETE ON job REFERENCING OLD TABLE AS removed
                FOR EACH STATEMENT EXECUTE FUNCTION batch_delete_job_rows();
            """),
    ]
}
