-- Indexes the admin dashboard cannot use, dropped so that a status change can be a
-- HOT update.
--
-- The dashboard reads talent_profiles as an admin, through PostgREST, so under the
-- table's RLS policy. Postgres evaluates a query's own conditions after the policy's
-- unless their operators are LEAKPROOF, and it cannot use an index for a condition it
-- must evaluate later. Two of the list's filters have no leakproof operator:
--   * status = 'submitted': status is the enum talent_status since
--     20261202200000_enum_types, and enum equality (enum_eq) is not leakproof;
--   * name/email ilike '%term%' (texticlike) is not leakproof either.
-- So talent_profiles_status_created_idx and the two trigram indexes were never used by
-- the list (EXPLAIN as the admin on 20,000 talents: the status, search and
-- status-sorted-by-name queries are sequential scans with and without them; the
-- submission-date range uses talent_profiles_submitted_idx, timestamptz comparisons
-- being leakproof). admin_analytics is security invoker, under the same policy, and
-- groups every row anyway. The sidecar reads profiles by id.
--
-- What they cost: every status change wrote an entry into every index of the table,
-- because status is indexed (an update is HOT only when no indexed column changes).
-- Without them, a status change (status, approved_at/activated_at, updated_at,
-- row_version, updated_by) touches no indexed column and is a HOT update whenever
-- the page has room. Kept: the primary key, user_id (RLS, unique), lower(email)
-- (unique), created_at (the list's default order) and submitted_at (the date range).
-- Should the dashboard's filters ever use an index (say through an RPC that runs as
-- a definer), an index on status could come back; it would make status changes
-- non-HOT again.

drop index public.talent_profiles_status_created_idx;
drop index public.talent_profiles_name_trgm_idx;
drop index public.talent_profiles_email_trgm_idx;
