-- RPCs for the admin dashboard, served by PostgREST at /rest/v1/rpc/<name>.
-- Both are security invoker: they run with the caller's rights, so RLS and the
-- state-machine trigger apply exactly as for a direct update.

-- Bulk review: one statement, one row change (and so one audit row) per talent.
-- All or nothing: one refused transition refuses the whole call, naming it.
create function public.admin_bulk_update(ids uuid[], action text, reason text default null)
returns setof public.talent_profiles
language plpgsql
security invoker
set search_path = ''
as $$
declare
  target text;
  found_count integer;
begin
  if not (select private.is_admin()) then
    raise exception 'admin_bulk_update is for admins only' using errcode = '42501';
  end if;
  if ids is null or cardinality(ids) = 0 then
    raise exception 'ids must name at least one talent profile' using errcode = '22023';
  end if;
  if cardinality(ids) > 1000 then
    raise exception 'at most 1000 profiles per bulk update, got %', cardinality(ids) using errcode = '22023';
  end if;
  target := case action
    when 'approve' then 'approved'
    when 'reject' then 'rejected'
    when 'activate' then 'active'
    when 'deactivate' then 'inactive'
    when 'reopen' then 'draft'
  end;
  if target is null then
    raise exception 'unknown bulk action %', coalesce(action, 'null')
      using errcode = '22023', hint = 'Use approve, reject, activate, deactivate or reopen.';
  end if;
  select count(*) into found_count from public.talent_profiles p where p.id = any (ids);
  if found_count <> (select count(distinct i) from unnest(ids) i) then
    raise exception 'some ids do not name a talent profile' using errcode = '22023';
  end if;
  return query
    update public.talent_profiles p
       set status = target,
           rejection_reason = case when action = 'reject' then reason else p.rejection_reason end
     where p.id = any (ids)
    returning p.*;
end
$$;
revoke all on function public.admin_bulk_update(uuid[], text, text) from public, anon;
grant execute on function public.admin_bulk_update(uuid[], text, text) to authenticated, service_role;

-- Dashboard figures: counts by status, submissions per day, time from submission to review.
create function public.admin_analytics(since timestamptz default now() - interval '30 days',
                                       until timestamptz default now())
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  result jsonb;
begin
  if not (select private.is_admin()) then
    raise exception 'admin_analytics is for admins only' using errcode = '42501';
  end if;
  if since > until then
    raise exception 'since must not be after until' using errcode = '22023';
  end if;
  select jsonb_build_object(
    'by_status', (select coalesce(jsonb_object_agg(status, n), '{}'::jsonb)
                    from (select status, count(*) n from public.talent_profiles group by status) s),
    'submissions_per_day', (select coalesce(jsonb_agg(jsonb_build_object('day', d, 'count', n) order by d), '[]'::jsonb)
                    from (select date_trunc('day', submitted_at)::date d, count(*) n
                            from public.talent_profiles
                           where submitted_at >= since and submitted_at < until
                           group by 1) s),
    'review_hours', (select jsonb_build_object(
                        'reviewed', count(*),
                        'avg', round((avg(extract(epoch from approved_at - submitted_at)) / 3600)::numeric, 2),
                        'p50', round((percentile_cont(0.5) within group (order by extract(epoch from approved_at - submitted_at)) / 3600)::numeric, 2))
                      from public.talent_profiles
                     where approved_at is not null and submitted_at is not null
                       and approved_at >= since and approved_at < until)
  ) into result;
  return result;
end
$$;
revoke all on function public.admin_analytics(timestamptz, timestamptz) from public, anon;
grant execute on function public.admin_analytics(timestamptz, timestamptz) to authenticated, service_role;

-- Realtime for the admin dashboard (RLS applies to what each subscriber receives).
alter publication supabase_realtime add table public.talent_profiles, public.admin_actions, public.email_notifications;
