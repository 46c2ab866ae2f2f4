-- Fix: private.talent_transition_actor compared a row of text columns with a row
-- literal of unknown-typed constants, which Postgres refuses ("cannot compare
-- dissimilar column types text and unknown"), so every status change failed.
-- Same table of transitions, written as plain text comparisons.
create or replace function private.talent_transition_actor(from_status text, to_status text) returns text
language sql immutable
set search_path = ''
as $$
  select case from_status || ' -> ' || to_status
    when 'draft -> submitted' then 'talent'
    when 'submitted -> approved' then 'admin'
    when 'submitted -> rejected' then 'admin'
    when 'approved -> active' then 'admin'
    when 'active -> inactive' then 'admin'
    when 'inactive -> active' then 'admin'
    when 'rejected -> draft' then 'admin'
  end
$$;
