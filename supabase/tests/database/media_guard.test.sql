-- The inline-media guard (migrations/20261121002000_media_guard.sql): every case of the
-- shared corpus sidecar/internal/mediaguard/testdata/corpus.json (which the Go twin's
-- tests read too) is written through the talent role exactly as PostgREST would; bad
-- values are refused with 23514 naming table.column and pointing to Storage, good
-- values are stored. Then inserts, service_role, the base URL setting and the bypass.
begin;
\ir _helpers.psql
-- psql reads the corpus (pg_prove runs from the repository root, see scripts/test.sh).
\set corpus `cat sidecar/internal/mediaguard/testdata/corpus.json`

create temp table corpus as
select c.*, o.n
from jsonb_array_elements(:'corpus'::jsonb) with ordinality o (c0, n)
cross join lateral jsonb_to_record(o.c0) as c (name text, "table" text, "column" text, value jsonb, want text);

select plan((select count(*)::int from corpus) + 15);

select tests.new_user('talent');
select tests.new_profile('talent');
insert into public.onboarding_progress (user_id) values (tests.id('talent'));

-- 'ok <rows>' when sql succeeds as the talent (then rolled back, so cases stay
-- independent), else 'SQLSTATE: message | hint'.
create function tests.media_try(sql text, who text default 'talent') returns text
language plpgsql as $$
declare st text; msg text; hnt text; n integer;
begin
  begin
    if who = 'service' then
      perform tests.as_service();
    else
      perform tests.as_user(who);
    end if;
    execute format('with x as (%s returning 1) select count(*)::int from x', sql) into n;
    raise exception using errcode = 'MGOK0', message = n::text;
  exception when others then
    get stacked diagnostics st = returned_sqlstate, msg = message_text, hnt = pg_exception_hint;
    if st = 'MGOK0' then
      return 'ok ' || msg;
    end if;
    return st || ': ' || msg || ' | ' || coalesce(hnt, '');
  end;
end
$$;

-- The SQL that writes a corpus value into its column of the talent's own row.
create function tests.media_write(tbl text, col text, v jsonb) returns text
language sql stable as $$
  select format('update public.%I set %I = %s where user_id = %L', tbl, col,
    case
      when col in ('headshot_urls', 'tone_categories') then format('array(select jsonb_array_elements_text(%L::jsonb))', v)
      when col in ('personality_traits', 'predefined_answers', 'form_data') then format('%L::jsonb', v)
      else format('%L', v #>> '{}')
    end,
    tests.id('talent'))
$$;

select case c.want
  when 'accept' then is(tests.media_try(tests.media_write(c."table", c."column", c.value)), 'ok 1',
                        format('corpus %s: %s.%s is stored', c.name, c."table", c."column"))
  else matches(tests.media_try(tests.media_write(c."table", c."column", c.value)),
               format('^23514: [^|]*%s\.%s[^|]* \| .*[Uu]pload the file to Supabase Storage', c."table", c."column"),
               format('corpus %s: %s.%s is refused, naming the column and pointing to Storage', c.name, c."table", c."column"))
  end
from corpus c
order by c.n;

-- The message names the place inside the column.
select matches(tests.media_try(tests.media_write('onboarding_progress', 'form_data',
  '{"steps": [{}, {}, {"photo": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"}]}')),
  '^23514: inline media refused in onboarding_progress\.form_data at form_data\.steps\[2\]\.photo: a data: URI \(image/png\)',
  'a JSON value is located by its path');
select matches(tests.media_try(format($q$update public.talent_profiles set headshot_urls = array['%s/storage/v1/object/public/headshots/a.jpg', 'https://example.com/b.jpg'] where user_id = %L$q$,
    private.media_storage_base_url(), tests.id('talent'))),
  '^23514: talent_profiles\.headshot_urls must hold a URL of this project''s Storage bucket headshots \(at headshot_urls\[1\]\)',
  'an array element is located by its 0-based index');

-- Inserts are guarded too, for both tables.
select tests.new_user('fresh');
select matches(tests.media_try(format($q$insert into public.talent_profiles (user_id, name, freeform_text) values (%L, 'Fresh', %L)$q$,
    tests.id('fresh'), 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk'), 'fresh'),
  '^23514: inline media refused in talent_profiles\.freeform_text', 'an insert carrying base64 is refused');
select matches(tests.media_try(format($q$insert into public.onboarding_progress (user_id, form_data) values (%L, %L)$q$,
    tests.id('fresh'), '{"x": "data:audio/wav;base64,UklGRiQAAABXQVZFZm10IBAAAAAB"}'), 'fresh'),
  '^23514: inline media refused in onboarding_progress\.form_data at form_data\.x', 'an onboarding insert carrying a data: URI is refused');

-- service_role bypasses RLS but not the guard.
select matches(tests.media_try(format($q$update public.talent_profiles set custom_tone = %L where user_id = %L$q$,
    'data:image/png;base64,AAAAAAAAAAAA', tests.id('talent')), 'service'),
  '^23514: inline media refused in talent_profiles\.custom_tone', 'service_role writes are guarded');
select is(tests.error_of(format($q$update public.talent_profiles set freeform_text = %L where user_id = %L$q$,
    '/9j/4AAQSkZJRgABAQAAAQABAAD', tests.id('talent'))) ~ '^23514: inline media refused', true,
  'the postgres superuser is guarded too');

-- A legacy offending value does not block an unrelated edit.
set local session_replication_role = replica;
update public.talent_profiles set freeform_text = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUg' where user_id = tests.id('talent');
reset session_replication_role;
select is(tests.media_try(format($q$update public.talent_profiles set name = 'Renamed' where user_id = %L$q$, tests.id('talent'))),
  'ok 1', 'with the triggers bypassed (replica) a bad value gets in, and an unrelated edit later still passes');
select matches(tests.media_try(format($q$update public.talent_profiles set freeform_text = freeform_text || ' more' where user_id = %L$q$, tests.id('talent'))),
  '^23514: ', 'editing the legacy value itself is refused');

-- An UPDATE fires the guard only when it sets a guarded column (migration
-- 20261203210000): Postgres decides from the SET list, and the function is not called.
set local track_functions = 'pl';
update public.talent_profiles set updated_by = updated_by where user_id = tests.id('talent');
select is((select coalesce(sum(calls), 0) from pg_stat_xact_user_functions where funcname = 'talent_profiles_media_guard'),
  0::numeric, 'an update that sets no guarded column does not call the guard');
update public.talent_profiles set admin_notes = 'Checked the booth photos.' where user_id = tests.id('talent');
select is((select coalesce(sum(calls), 0) from pg_stat_xact_user_functions where funcname = 'talent_profiles_media_guard'),
  1::numeric, 'an update that sets a guarded column calls the guard');
select matches(tests.media_try(format($q$update public.talent_profiles set location = location, custom_tone = %L where user_id = %L$q$,
    'data:image/png;base64,AAAAAAAAAAAA', tests.id('talent'))),
  '^23514: inline media refused in talent_profiles\.custom_tone', 'a changed guarded column is refused beside an unchanged one');

-- The Storage base URL is configuration in private.media_settings.
select is(private.media_storage_base_url(), 'http://127.0.0.1:54321', 'the local default is the Supabase API address');
update private.media_settings set storage_base_url = 'https://abcdefgh.supabase.co';
select is(tests.media_try(format($q$update public.talent_profiles set video_sample_url = 'https://abcdefgh.supabase.co/storage/v1/object/public/video-samples/%s/v.mp4' where user_id = %L$q$,
    tests.id('talent'), tests.id('talent'))), 'ok 1', 'a URL under the configured hosted base is accepted');
select matches(tests.media_try(format($q$update public.talent_profiles set video_sample_url = 'http://127.0.0.1:54321/storage/v1/object/public/video-samples/%s/v.mp4' where user_id = %L$q$,
    tests.id('talent'), tests.id('talent'))), '^23514: talent_profiles\.video_sample_url must hold a URL', 'the old base is refused after the change');
select throws_ok($$update private.media_settings set storage_base_url = 'https://x.supabase.co/'$$, '23514', null,
  'a base URL with a trailing slash is refused');

select * from finish();
rollback;
