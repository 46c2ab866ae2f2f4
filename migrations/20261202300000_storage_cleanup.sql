-- Deleting a talent removes their media: one job per deleted talent, queued by the
-- sidecar in the same transaction that claims the talent's delete record
-- (sidecar.changes), so a delete queues its cleanup exactly once whichever input
-- announced it. The sidecar's storage cleaner claims due jobs (FOR UPDATE SKIP
-- LOCKED, as the email outbox does), deletes the objects under '<user_id>/' in the
-- three media buckets through the Storage API, and records the outcome here: done
-- with the number of objects removed, or failed with the last error once its
-- attempts are spent. A failure stays here for an operator to see and re-queue
-- (deploy/RUNBOOK.md); nothing is lost.
--
-- The table lives in the sidecar schema, beside the change record, not in public:
-- it is an operational queue of the sidecar, not product data the dashboard shows.
-- The schema is not exposed through PostgREST and the API roles have no privilege
-- on it, so a client can neither read, forge nor re-queue a deletion of someone
-- else's media, and the public API (and its generated supabase-js types) is
-- unchanged. Operators read it with SQL.

create table sidecar.storage_deletions (
  id bigint generated always as identity primary key,
  -- The deleted talent. No foreign key: the talent is gone by the time the job exists.
  talent_profile_id uuid not null,
  -- Whose folders are emptied: objects live under '<user_id>/' in each bucket.
  user_id uuid not null,
  -- 'change:<record id>/storage': the delete record's key, so the same record
  -- handled twice (a redelivery, a second sidecar) queues nothing more.
  idempotency_key text not null,
  -- The delete record's id (records are pruned, so no foreign key either).
  change_id bigint,
  -- When the talent was deleted (the record's time). Objects created after it are
  -- not theirs to remove: the same user may have started a new profile since.
  deleted_at timestamptz not null,
  status text not null default 'queued',
  attempts integer not null default 0,
  -- When the cleaner may next claim it: now for a new job, later after a failed
  -- attempt (backoff), and pushed forward by a lease while an attempt runs.
  next_attempt_at timestamptz not null default now(),
  last_error text,
  -- Objects removed so far, over every attempt (a retry after a partial deletion
  -- lists again and adds what it removes).
  objects_deleted integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint storage_deletions_idempotency_key_key unique (idempotency_key),
  constraint storage_deletions_status_check check (status in ('queued', 'done', 'failed')),
  constraint storage_deletions_attempts_check check (attempts >= 0),
  constraint storage_deletions_objects_deleted_check check (objects_deleted >= 0)
);
comment on table sidecar.storage_deletions is
  'Media of deleted talents to remove from Storage, queued by the sidecar with the delete record; status queued | done | failed.';

-- The cleaner's claim: due queued jobs, oldest due first.
create index storage_deletions_due_idx on sidecar.storage_deletions (next_attempt_at) where status = 'queued';
-- Operators look for failures.
create index storage_deletions_failed_idx on sidecar.storage_deletions (updated_at) where status = 'failed';

alter table sidecar.storage_deletions enable row level security;
revoke all on table sidecar.storage_deletions from public, anon, authenticated;
-- The sidecar (service_role, or the role ops give it) queues, claims and records.
grant select, insert, update on table sidecar.storage_deletions to service_role;
