-- Who is an admin. A row here is the only source of admin rights; user_metadata is
-- user-writable and never consulted. Written by ops (service_role) only.
create table public.admin_users (
  id uuid primary key references auth.users (id) on delete cascade,
  role text not null default 'admin'
    constraint admin_users_role_check check (role in ('admin', 'super_admin')),
  created_at timestamptz not null default now()
);
comment on table public.admin_users is
  'Admins of the talent portal. Managed by ops with the service role; read-only for admins.';

alter table public.admin_users enable row level security;
revoke all on table public.admin_users from anon, authenticated;
grant select on table public.admin_users to authenticated;
grant all on table public.admin_users to service_role;

-- Policy helpers. security definer so policies on admin_users itself do not recurse;
-- empty search_path so nothing can be shadowed; stable so a policy written as
-- (select private.is_admin()) is evaluated once per statement.
create function private.admin_role() returns text
language sql stable security definer
set search_path = ''
as $$
  select a.role from public.admin_users a where a.id = auth.uid()
$$;

create function private.is_admin() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (select 1 from public.admin_users a where a.id = auth.uid())
$$;

create function private.is_super_admin() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.admin_users a where a.id = auth.uid() and a.role = 'super_admin'
  )
$$;

revoke all on function private.admin_role(), private.is_admin(), private.is_super_admin() from public;
grant execute on function private.admin_role(), private.is_admin(), private.is_super_admin()
  to authenticated, service_role;
