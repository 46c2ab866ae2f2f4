-- admin_analytics returns a composite type instead of jsonb, so its result is typed
-- in the generated TypeScript (jsonb comes out as `Json`). Same figures as before
-- (20261121001100_admin_rpc.sql); by_status is now a list of {status, count} rather
-- than an object keyed by status, and the function stays security invoker, admins only.

create type public.talent_status_count as (status public.talent_status, count bigint);
create type public.talent_day_count as (day date, count bigint);
create type public.talent_review_hours as (reviewed bigint, avg numeric, p50 numeric);
create type public.admin_analytics_result as (
  by_status public.talent_status_count[],
  submissions_per_day public.talent_day_count[],
  review_hours public.talent_review_hours
);
comment on type public.admin_analytics_result is
  'admin_analytics: profiles by status, submissions per day, and hours from submission to approval.';

drop function public.admin_analytics(timestamptz, timestamptz);
create function public.admin_analytics(since timestamptz default now() - interval '30 days',
                                       until timestamptz default now())
returns public.admin_analytics_result
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  result public.admin_analytics_result;
begin
  if not (select private.is_admin()) then
    raise exception 'admin_analytics is for admins only' using errcode = '42501';
  end if;
  if since > until then
    raise exception 'since must not be after until' using errcode = '22023';
  end if;
  result.by_status := array(
    select row(status, count(*))::public.talent_status_count
      from public.talent_profiles group by status order by status);
  result.submissions_per_day := array(
    select row(d, count(*))::public.talent_day_count
      from (select date_trunc('day', submitted_at)::date d
              from public.talent_profiles
             where submitted_at >= since and submitted_at < until) s
     group by d order by d);
  result.review_hours := (
    select row(count(*),
               round((avg(extract(epoch from approved_at - submitted_at)) / 3600)::numeric, 2),
               round((percentile_cont(0.5) within group (order by extract(epoch from approved_at - submitted_at)) / 3600)::numeric, 2)
              )::public.talent_review_hours
      from public.talent_profiles
     where approved_at is not null and submitted_at is not null
       and approved_at >= since and approved_at < until);
  return result;
end
$$;
revoke all on function public.admin_analytics(timestamptz, timestamptz) from public, anon;
grant execute on function public.admin_analytics(timestamptz, timestamptz) to authenticated, service_role;
