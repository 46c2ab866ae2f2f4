-- personality_traits holds the specification's four traits (PON-47, TalentProfile and
-- the wizard's schema): extroversion, formality, energy, professionalism, each an
-- integer from 0 to 100. Any other key is refused with an error naming it.
-- predefined_answers is an object of strings (z.record(z.string(), z.string())).
--
-- Both checks are CHECK constraints whose function raises the error itself
-- (SQLSTATE 23514, PostgREST: HTTP 400), so the message can name the offending key
-- and every writer, the service included, is held to them.

-- Rows written under the old rules (any trait name, any number; answers of any JSON
-- type) are brought into shape first; what that changes is kept here.
create table private.talent_profiles_pre_spec_values (
  talent_profile_id uuid primary key,
  personality_traits jsonb not null,
  predefined_answers jsonb not null,
  saved_at timestamptz not null default now()
);
comment on table private.talent_profiles_pre_spec_values is
  'personality_traits and predefined_answers as they were before migration 20261202100200 reshaped them to the specification.';
revoke all on table private.talent_profiles_pre_spec_values from public, anon, authenticated;
grant select on table private.talent_profiles_pre_spec_values to service_role;

create function private.spec_personality_traits(traits jsonb) returns jsonb
language sql immutable
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(e.key, least(100, greatest(0, round((e.value)::numeric)))::integer), '{}'::jsonb)
    from jsonb_each(case when jsonb_typeof(traits) = 'object' then traits else '{}'::jsonb end) e
   where e.key in ('extroversion', 'formality', 'energy', 'professionalism')
     and jsonb_typeof(e.value) = 'number'
$$;

create function private.spec_predefined_answers(answers jsonb) returns jsonb
language sql immutable
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(e.key, case jsonb_typeof(e.value) when 'string' then e.value
                                              else to_jsonb(e.value::text) end), '{}'::jsonb)
    from jsonb_each(case when jsonb_typeof(answers) = 'object' then answers else '{}'::jsonb end) e
   where jsonb_typeof(e.value) <> 'null'
$$;

insert into private.talent_profiles_pre_spec_values (talent_profile_id, personality_traits, predefined_answers)
select id, personality_traits, predefined_answers
  from public.talent_profiles
 where personality_traits is distinct from private.spec_personality_traits(personality_traits)
    or predefined_answers is distinct from private.spec_predefined_answers(predefined_answers);

update public.talent_profiles p
   set personality_traits = private.spec_personality_traits(p.personality_traits),
       predefined_answers = private.spec_predefined_answers(p.predefined_answers)
 where p.id in (select talent_profile_id from private.talent_profiles_pre_spec_values);

create or replace function private.valid_personality_traits(traits jsonb) returns boolean
language plpgsql immutable
set search_path = ''
as $$
declare
  k text;
  v jsonb;
begin
  if jsonb_typeof(traits) is distinct from 'object' then
    raise exception 'personality_traits must be an object, not %', coalesce(jsonb_typeof(traits), 'null')
      using errcode = '23514', constraint = 'talent_profiles_personality_traits_shape',
            hint = 'Send {"extroversion": 0-100, "formality": 0-100, "energy": 0-100, "professionalism": 0-100}.';
  end if;
  for k, v in select e.key, e.value from jsonb_each(traits) e loop
    if k not in ('extroversion', 'formality', 'energy', 'professionalism') then
      raise exception 'unknown personality trait "%"', left(k, 100)
        using errcode = '23514', constraint = 'talent_profiles_personality_traits_shape',
              hint = 'The traits are extroversion, formality, energy and professionalism.';
    end if;
    if jsonb_typeof(v) <> 'number' or (v)::numeric <> trunc((v)::numeric)
       or (v)::numeric < 0 or (v)::numeric > 100 then
      raise exception 'personality trait "%" must be an integer from 0 to 100, not %', k, left(v::text, 100)
        using errcode = '23514', constraint = 'talent_profiles_personality_traits_shape';
    end if;
  end loop;
  return true;
end
$$;

create function private.valid_predefined_answers(answers jsonb) returns boolean
language plpgsql immutable
set search_path = ''
as $$
declare
  k text;
  v jsonb;
begin
  if jsonb_typeof(answers) is distinct from 'object' then
    raise exception 'predefined_answers must be an object of strings, not %', coalesce(jsonb_typeof(answers), 'null')
      using errcode = '23514', constraint = 'talent_profiles_predefined_answers_shape';
  end if;
  if pg_column_size(answers) > 65536 then
    raise exception 'predefined_answers is too large (% bytes, at most 65536)', pg_column_size(answers)
      using errcode = '23514', constraint = 'talent_profiles_predefined_answers_shape';
  end if;
  for k, v in select e.key, e.value from jsonb_each(answers) e loop
    if length(k) > 200 then
      raise exception 'predefined answer key "%..." is longer than 200 characters', left(k, 50)
        using errcode = '23514', constraint = 'talent_profiles_predefined_answers_shape';
    end if;
    if jsonb_typeof(v) <> 'string' then
      raise exception 'predefined answer "%" must be a string, not %', k, jsonb_typeof(v)
        using errcode = '23514', constraint = 'talent_profiles_predefined_answers_shape';
    end if;
  end loop;
  return true;
end
$$;

-- Re-added so that every existing row is checked against the new rules.
alter table public.talent_profiles
  drop constraint talent_profiles_personality_traits_shape,
  drop constraint talent_profiles_predefined_answers_shape;
alter table public.talent_profiles
  add constraint talent_profiles_personality_traits_shape
    check (private.valid_personality_traits(personality_traits)),
  add constraint talent_profiles_predefined_answers_shape
    check (private.valid_predefined_answers(predefined_answers));

drop function private.spec_personality_traits(jsonb);
drop function private.spec_predefined_answers(jsonb);
