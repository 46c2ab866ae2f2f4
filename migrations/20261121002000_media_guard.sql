-- The inline-media guard: media belong in Supabase Storage and rows hold URLs, so
-- Postgres refuses any write to talent data that carries a file inline. The same rule
-- lives in Go (sidecar/internal/mediaguard, same regular expressions, same corpus in
-- sidecar/internal/mediaguard/testdata/corpus.json) for auditing what bypassed it.
--
-- A string (text column, text[] element, jsonb string value or key, walked
-- recursively) is refused when, after decoding %XX escapes twice (only printable
-- ASCII, tab, CR, LF are decoded):
--   * it holds a data: URI in any dressing: any case, whitespace between any of its
--     tokens, "data:<type>/<subtype>[;params],..." for the media-ish top-level types,
--     "data:;params,...", or "data:[base64],<8+ non-blank chars>" (missing MIME);
--     prose such as "my data: 5 years" or "data: image/png, audio/wav" is not one;
--   * it holds a run of the base64 alphabet (standard A-Za-z0-9+/ or URL-safe
--     A-Za-z0-9-_, '=' padding, continued across line breaks when the line before
--     is at least 16 long, as MIME (76) and PEM (64) wrap) that is
--       - at least 16 characters and starts with the base64 form of a media/file
--         magic number (/9j/ JPEG, iVBORw0KGgo PNG, R0lGOD GIF, UklGR RIFF/WAV/WEBP,
--         AAAA??Z0eX MP4/MOV/M4A/HEIC ftyp, SUQz MP3, T2dnUw OGG, GkXf WebM, FLAC,
--         AIFF, TIFF, SVG, PDF, ZIP, GZIP, MIDI), or
--       - at least 64 characters mixing upper case, lower case and digits, with 16
--         alphanumerics in a row somewhere, not pure hex and not inside an
--         http(s):// URL (hashes, UUIDs, long words, slash/hyphen-separated lists,
--         URL paths and signed-URL tokens never qualify), or
--       - at least 512 characters, whatever they are.
-- The media URL columns (headshot_urls, video_sample_url, freeform_audio_url) accept
-- only '' (no media) or
--   <storage_base_url>/storage/v1/object/[public/|sign/|authenticated/]<bucket>/<path>[?query]
-- for their own bucket (headshots, video-samples, interview-audio), and the part
-- before '?' must pass the rule above (the query may hold a signed URL's token).
--
-- Error: SQLSTATE 23514 (check_violation), which PostgREST returns to the browser as
-- HTTP 400 with {code: "23514", message, details, hint}. The message names the table,
-- the column and the place in it (0-based array index, JSON path such as
-- form_data.steps[2].photo, "{key}" when a JSON key is the offender); the hint says to
-- upload the file to Storage and store its URL. The error's COLUMN and TABLE fields
-- are set too.
--
-- Storage base URL: private.media_settings (one row). Locally it is the Supabase API
-- address http://127.0.0.1:54321. On a hosted project ops set it once, as the
-- postgres user (SQL editor or psql), to the project URL (lower case, no trailing /):
--   update private.media_settings set storage_base_url = 'https://<project-ref>.supabase.co';
-- A trigger turns the row into the constant function private.media_storage_base_url()
-- that the guard calls (no table read per write).
--
-- Trigger order: BEFORE triggers fire in name order, so the guards are named
-- *_z_media_guard to run after *_before_write and see the row as it will be stored.
-- They run for every role (service_role and the postgres user too); only a disabled
-- trigger or session_replication_role = replica skips them, which is what the
-- sidecar's handler and `sidecar media scan` are for.

create table private.media_settings (
  id boolean primary key default true constraint media_settings_one_row check (id),
  storage_base_url text not null default 'http://127.0.0.1:54321'
    constraint media_settings_base_url_format
    check (storage_base_url ~ '^https?://[^/?#[:space:]]+(/[^?#[:space:]]*)?$' and storage_base_url !~ '/$'
           and storage_base_url = lower(storage_base_url)),
  updated_at timestamptz not null default now()
);
comment on table private.media_settings is
  'One row: the Storage base URL media URL columns must start with (the project URL on a hosted project).';
alter table private.media_settings enable row level security;
revoke all on table private.media_settings from public, anon, authenticated;
grant select on table private.media_settings to service_role;
insert into private.media_settings default values;


-- Fast path for media URL columns, with string functions only (no regular
-- expression): an object URL of bucket under base whose path is made of lower-case
-- letters, digits and . _ - / (no "/9j/"), shorter than 512, with a query free of
-- blanks and '#', holds nothing the rule refuses (no upper case means no magic number
-- and no mixed run; no ':' or '%' means no data: URI). false means "run the full
-- rule", not "refuse". Mirrored by fastURL in sidecar/internal/mediaguard/rule.go.
create function private.media_url_fast(v text, bucket text, base text) returns boolean
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  rest text;
  q integer;
  path text;
begin
  if v is null or base is null or length(v) >= 512 or not starts_with(v, base || '/storage/v1/object/') then
    return false;
  end if;
  rest := substr(v, length(base) + 20);
  if starts_with(rest, 'public/') then
    rest := substr(rest, 8);
  elsif starts_with(rest, 'sign/') then
    rest := substr(rest, 6);
  elsif starts_with(rest, 'authenticated/') then
    rest := substr(rest, 15);
  end if;
  if not starts_with(rest, bucket || '/') then
    return false;
  end if;
  rest := substr(rest, length(bucket) + 2);
  q := strpos(rest, '?');
  path := case when q > 0 then left(rest, q - 1) else rest end;
  return path <> ''
     and translate(path, 'abcdefghijklmnopqrstuvwxyz0123456789._-/', '') = ''
     and strpos(path, '/9j/') = 0
     and (q = 0 or translate(substr(rest, q), E'# \t\n\r\f' || chr(11), '') = substr(rest, q));
end
$$;

-- The configured base URL as a constant: the trigger below rewrites this function
-- whenever private.media_settings changes, so the guard reads no table per write.
create function private.media_storage_base_url() returns text
language plpgsql immutable parallel safe
set search_path = ''
as $$
begin
  return 'http://127.0.0.1:54321';
end
$$;

create function private.media_settings_apply() returns trigger
language plpgsql security definer
set search_path = ''
as $fn$
begin
  execute format($f$
    create or replace function private.media_storage_base_url() returns text
    language plpgsql immutable parallel safe
    set search_path = ''
    as $b$ begin return %L; end $b$
  $f$, new.storage_base_url);
  return null;
end
$fn$;
revoke all on function private.media_settings_apply() from public;

create trigger media_settings_apply
  after insert or update on private.media_settings
  for each row execute function private.media_settings_apply();
update private.media_settings set updated_at = now();

-- %XX decoding of printable ASCII, tab, LF and CR; other escapes stay as they are.
create function private.media_pct_decode(v text) returns text
language sql immutable strict parallel safe
set search_path = ''
as $$
  select coalesce(string_agg(
    case when m.t[1] ~ '^%[0-9a-fA-F]{2}$'
          and (('x' || substr(m.t[1], 2))::bit(8)::int in (9, 10, 13)
               or ('x' || substr(m.t[1], 2))::bit(8)::int between 32 and 126)
         then chr(('x' || substr(m.t[1], 2))::bit(8)::int)
         else m.t[1] end, '' order by m.n), '')
  from regexp_matches(v, '%[0-9a-fA-F]{2}|[^%]+|%', 'g') with ordinality as m (t, n)
$$;

-- The MIME type whose magic number a base64 run (standard alphabet) starts with.
create function private.media_magic_type(c text) returns text
language sql immutable strict parallel safe
set search_path = ''
as $$
  -- starts_with/substr, not regular expressions: Postgres caches only 32 compiled
  -- expressions per backend, and the guard's hot path must stay within them.
  select case
    when starts_with(c, '/9j/') then 'image/jpeg'
    when starts_with(c, 'iVBORw0KGgo') then 'image/png'
    when starts_with(c, 'R0lGOD') then 'image/gif'
    when starts_with(c, 'UklGR') then 'audio/wav'
    when starts_with(c, 'AAAA') and substr(c, 7, 4) = 'Z0eX' then 'video/mp4'
    when starts_with(c, 'SUQz') then 'audio/mpeg'
    when starts_with(c, 'T2dnUw') then 'audio/ogg'
    when starts_with(c, 'GkXf') then 'video/webm'
    when starts_with(c, 'ZkxhQw') then 'audio/flac'
    when starts_with(c, 'Rk9STQ') then 'audio/aiff'
    when starts_with(c, 'SUkqA') or starts_with(c, 'TU0AK') then 'image/tiff'
    when starts_with(c, 'PHN2Zy') or starts_with(c, 'PD94bWwg') then 'image/svg+xml'
    when starts_with(c, 'JVBERi0') then 'application/pdf'
    when starts_with(c, 'UEsDB') then 'application/zip'
    when starts_with(c, 'H4sI') then 'application/gzip'
    when starts_with(c, 'TVRoZA') then 'audio/midi'
  end
$$;

-- The cheap pre-check: a string for which this is false cannot be refused (it needs
-- '%', "a:", a magic number, 64 base64 characters in a row, or a wrapped line of at
-- least 16). It also understands jsonb's text form (a line break written \n), so the
-- triggers run it once over all changed values of a row. Cheap tests come first and
-- the regular expressions are small: UUIDs, URLs and prose stop early. (plpgsql, not
-- sql: a non-inlined sql function is planned again in every transaction.)
create function private.media_suspect(v text) returns boolean
language plpgsql immutable parallel safe
set search_path = ''
as $$
begin
  return case
    when v is null then false
    when strpos(v, '%') > 0 then true
    when strpos(v, ':') > 0 and v ~ '[aA](?:[ \t\n\r\f\v]|\\[ntrf]|\\u000[bB])*:' then true
    when v !~ '[A-Za-z0-9+/_-]{16}' then false
    when v ~ '/9j/|_9j_|iVBORw0KGgo|R0lGOD|UklGR|AAAA[A-Za-z0-9+/_-]{2}Z0eX|SUQz|T2dnUw|GkXf|ZkxhQw|Rk9STQ|SUkqA|TU0AK|PHN2Zy|PD94bWwg|JVBERi0|UEsDB|H4sI|TVRoZA' then true
    when v ~ '[A-Za-z0-9+/]{64}' or v ~ '[A-Za-z0-9_-]{64}' then true
    when (strpos(v, E'\n') > 0 or strpos(v, '\n') > 0)
         and v ~ '[A-Za-z0-9+/_-]{16}={0,2}(?:[ \t]|\\t)*(?:\r|\\r)?(?:\n|\\n)' then true
    else false
  end;
end
$$;

-- The rule on one string. Returns null when the string is acceptable, otherwise
-- '<kind>[ <guessed type>]' with kind one of data-uri, base64-media, base64-blob,
-- not-storage-url. bucket (with base_url) selects the media URL column rule.
create function private.media_check_string(v text, bucket text default null, base_url text default null)
returns text
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  s text := v;
  head text;
  prefix text;
  run text;
  c text;
  typ text;
begin
  if bucket is not null then
    if v is null or v = '' then
      return null;
    end if;
    head := split_part(split_part(v, '?', 1), '#', 1);
    if private.media_suspect(head) then
      typ := private.media_check_string(head);
      if typ is not null then
        return typ;
      end if;
    end if;
    prefix := coalesce(base_url, '') || '/storage/v1/object/';
    if base_url is null or not starts_with(v, prefix)
       or substr(v, length(prefix) + 1) !~ ('^(?:public/|sign/|authenticated/)?' || bucket
                                            || '/[^?# \t\n\r\f\v]+(?:\?[^# \t\n\r\f\v]*)?$') then
      return 'not-storage-url';
    end if;
    return null;
  end if;

  -- Cheap pre-check: a string this misses cannot be refused by anything below (it
  -- needs '%', "a:", a magic number, 64 base64 characters in a row, or a wrapped
  -- line of at least 16). UUIDs, URLs and prose stop here.
  if v is null or octet_length(v) < 8 or not private.media_suspect(v) then
    return null;
  end if;
  if strpos(v, '%') > 0 then
    s := private.media_pct_decode(private.media_pct_decode(v));
  end if;

  if strpos(s, ':') > 0 and s ~* ('(?:^|[^a-z0-9])d[ \t\n\r\f\v]*a[ \t\n\r\f\v]*t[ \t\n\r\f\v]*a[ \t\n\r\f\v]*:[ \t\n\r\f\v]*'
           '(?:(?:image|audio|video|application|text|font|model|multipart|message)[ \t\n\r\f\v]*/[ \t\n\r\f\v]*[a-z0-9!#$&^_.+-]+[ \t\n\r\f\v]*'
             '(?:(?:;[ \t\n\r\f\v]*[a-z0-9!#$&^_.+-]+[ \t\n\r\f\v]*(?:=[ \t\n\r\f\v]*(?:"[^"]*"|[^;,"]*)[ \t\n\r\f\v]*)?)+,|,[^ \t\n\r\f\v])'
           '|(?:;[ \t\n\r\f\v]*[a-z0-9!#$&^_.+-]+[ \t\n\r\f\v]*(?:=[ \t\n\r\f\v]*(?:"[^"]*"|[^;,"]*)[ \t\n\r\f\v]*)?)+,'
           '|(?:base64[ \t\n\r\f\v]*)?,[^ \t\n\r\f\v]{8})') then
    typ := lower(translate((regexp_match(s,
      'd[ \t\n\r\f\v]*a[ \t\n\r\f\v]*t[ \t\n\r\f\v]*a[ \t\n\r\f\v]*:[ \t\n\r\f\v]*'
      '((?:image|audio|video|application|text|font|model|multipart|message)[ \t\n\r\f\v]*/[ \t\n\r\f\v]*[a-z0-9!#$&^_.+-]+)', 'i'))[1],
      E' \t\n\r\f' || chr(11), ''));
    return 'data-uri' || coalesce(' ' || typ, '');
  end if;

  -- Only a magic number or 64 characters can make a run offend.
  if length(s) < 64 and s !~ '/9j/|_9j_|iVBORw0KGgo|R0lGOD|UklGR|AAAA[A-Za-z0-9+/_-]{2}Z0eX|SUQz|T2dnUw|GkXf|ZkxhQw|Rk9STQ|SUkqA|TU0AK|PHN2Zy|PD94bWwg|JVBERi0|UEsDB|H4sI|TVRoZA' then
    return null;
  end if;
  -- Magic numbers and huge runs count anywhere; the long-run tier ignores http(s)
  -- URLs, whose paths and tokens (document ids, signed-URL JWTs) look like base64.
  for run in
    select (regexp_matches(s, '[A-Za-z0-9+/]{16,}={0,2}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]{16,}={0,2})*(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]+={0,2})?', 'g'))[1]
    union all
    select (regexp_matches(s, '[A-Za-z0-9_-]{16,}={0,2}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9_-]{16,}={0,2})*(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9_-]+={0,2})?', 'g'))[1]
  loop
    c := translate(run, E'-_ \t\r\n=', '+/');
    continue when length(c) < 16;
    typ := private.media_magic_type(c);
    if typ is not null then
      return 'base64-media ' || typ;
    end if;
    if length(c) >= 512 then
      return 'base64-blob';
    end if;
  end loop;
  s := regexp_replace(s, 'https?://[^ \t\n\r\f\v]+', ' ', 'gi');
  for run in
    select (regexp_matches(s, '[A-Za-z0-9+/]{16,}={0,2}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]{16,}={0,2})*(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]+={0,2})?', 'g'))[1]
    union all
    select (regexp_matches(s, '[A-Za-z0-9_-]{16,}={0,2}(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9_-]{16,}={0,2})*(?:[ \t]*\r?\n[ \t]*[A-Za-z0-9_-]+={0,2})?', 'g'))[1]
  loop
    c := translate(run, E'-_ \t\r\n=', '+/');
    if length(c) >= 64
       and translate(c, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '') <> c
       and translate(c, 'abcdefghijklmnopqrstuvwxyz', '') <> c
       and translate(c, '0123456789', '') <> c
       and c ~ '[A-Za-z0-9]{16}' and c !~ '^[0-9a-fA-F]+$' then
      return 'base64-blob';
    end if;
  end loop;
  return null;
end
$$;

-- A JSON member step of a path: .key for identifiers, ["key"] otherwise, keys cut at 40.
create function private.media_path_key(k text) returns text
language sql immutable strict parallel safe
set search_path = ''
as $$
  select case when k ~ '^[A-Za-z_][A-Za-z0-9_]*$' and length(k) <= 40 then '.' || k
    else '["' || replace(replace(case when length(k) > 40 then left(k, 40) || '…' else k end,
                                 '\', '\\'), '"', '\"') || '"]'
  end
$$;

-- The first offending string of a jsonb document (keys and values, any depth), with
-- its path under root.
create function private.media_check_jsonb(v jsonb, root text)
returns table (path text, reason text)
language sql immutable parallel safe
set search_path = ''
as $$
  with recursive walk (path, key, val) as (
    select root, null::text, v
    union all
    select w.path || k.step, k.key, k.val
    from walk w
    cross join lateral (
      select private.media_path_key(e.key) as step, e.key, e.value as val
        from jsonb_each(case when jsonb_typeof(w.val) = 'object' then w.val end) e
      union all
      select '[' || (a.n - 1) || ']', null, a.value
        from jsonb_array_elements(case when jsonb_typeof(w.val) = 'array' then w.val end) with ordinality a (value, n)
    ) k
  )
  select x.path, x.reason from (
    select w.path || '{key}' as path, private.media_check_string(w.key) as reason
      from walk w where w.key is not null
    union all
    select w.path, private.media_check_string(w.val #>> '{}')
      from walk w where jsonb_typeof(w.val) = 'string'
  ) x
  where x.reason is not null
  limit 1
$$;

-- Raises the guard's error for one offending value.
create function private.media_refuse(tbl text, col text, path text, reason text, bucket text default null)
returns void
language plpgsql
set search_path = ''
as $$
declare
  kind text := split_part(reason, ' ', 1);
  typ text := nullif(split_part(reason, ' ', 2), '');
  base text;
begin
  if kind = 'not-storage-url' then
    base := private.media_storage_base_url();
    raise exception '%.% must hold a URL of this project''s Storage bucket % (at %)', tbl, col, bucket, path
      using errcode = '23514', schema = 'public', table = tbl, column = col,
            detail = format('Expected %s/storage/v1/object/[public/|sign/|authenticated/]%s/<path>; kind=%s path=%s',
                            base, bucket, kind, path),
            hint = format('Upload the file to Supabase Storage (bucket %s) and store the object''s URL here, not the file or another URL.', bucket);
  end if;
  raise exception 'inline media refused in %.% at %: %', tbl, col, path,
    case kind
      when 'data-uri' then 'a data: URI' || coalesce(' (' || typ || ')', '')
      when 'base64-media' then 'base64-encoded ' || typ || ' (its magic number)'
      else 'a base64 blob'
    end
    using errcode = '23514', schema = 'public', table = tbl, column = col,
          detail = format('kind=%s path=%s%s', kind, path, coalesce(' guessed_type=' || typ, '')),
          hint = 'Media are not stored in the database: upload the file to Supabase Storage '
                 '(buckets headshots, video-samples, interview-audio) and store its URL instead.';
end
$$;

-- Column checks used by the triggers; each raises on the first offending value.
create function private.media_guard_text(tbl text, col text, v text, bucket text default null, base text default null)
returns void
language plpgsql
set search_path = ''
as $$
declare reason text;
begin
  reason := private.media_check_string(v, bucket, base);
  if reason is not null then
    perform private.media_refuse(tbl, col, col, reason, bucket);
  end if;
end
$$;

create function private.media_guard_array(tbl text, col text, v text[], bucket text default null, base text default null)
returns void
language plpgsql
set search_path = ''
as $$
declare
  r record;
begin
  for r in
    select x.n, private.media_check_string(x.e, bucket, base) as reason
    from unnest(v) with ordinality x (e, n)
  loop
    if r.reason is not null then
      perform private.media_refuse(tbl, col, col || '[' || (r.n - 1) || ']', r.reason, bucket);
    end if;
  end loop;
end
$$;

create function private.media_guard_jsonb(tbl text, col text, v jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare r record;
begin
  select * into r from private.media_check_jsonb(v, col);
  if found then
    perform private.media_refuse(tbl, col, r.path, r.reason);
  end if;
end
$$;


create function private.talent_profiles_media_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  ins boolean := tg_op = 'INSERT';
  heads boolean := cardinality(new.headshot_urls) > 0 and (ins or new.headshot_urls is distinct from old.headshot_urls);
  video boolean := coalesce(new.video_sample_url, '') <> '' and (ins or new.video_sample_url is distinct from old.video_sample_url);
  audio boolean := coalesce(new.freeform_audio_url, '') <> '' and (ins or new.freeform_audio_url is distinct from old.freeform_audio_url);
  base text;
  u text;
begin
  -- Media URL columns: every change is checked, first by the string-function fast
  -- path (private.media_url_fast), and by the full rule only when that says no.
  if heads or video or audio then
    base := private.media_storage_base_url();
    if heads then
      heads := false;
      foreach u in array new.headshot_urls loop
        if not private.media_url_fast(u, 'headshots', base) then
          heads := true;
          exit;
        end if;
      end loop;
    end if;
    video := video and not private.media_url_fast(new.video_sample_url, 'video-samples', base);
    audio := audio and not private.media_url_fast(new.freeform_audio_url, 'interview-audio', base);
  end if;
  if heads then
    perform private.media_guard_array('talent_profiles', 'headshot_urls', new.headshot_urls, 'headshots', base);
  end if;
  if video then
    perform private.media_guard_text('talent_profiles', 'video_sample_url', new.video_sample_url, 'video-samples', base);
  end if;
  if audio then
    perform private.media_guard_text('talent_profiles', 'freeform_audio_url', new.freeform_audio_url, 'interview-audio', base);
  end if;

  -- Free-text columns: one cheap probe over the changed values; nearly every row
  -- stops here.
  if not coalesce(private.media_suspect(concat_ws(chr(1),
      case when ins or new.name is distinct from old.name then new.name end,
      case when ins or new.email is distinct from old.email then new.email end,
      case when ins or new.phone is distinct from old.phone then new.phone end,
      case when ins or new.location is distinct from old.location then new.location end,
      case when ins or new.tone_categories is distinct from old.tone_categories
           then array_to_string(new.tone_categories, chr(1)) end,
      case when ins or new.personality_traits is distinct from old.personality_traits
           then new.personality_traits::text end,
      case when ins or new.custom_tone is distinct from old.custom_tone then new.custom_tone end,
      case when ins or new.predefined_answers is distinct from old.predefined_answers
           then new.predefined_answers::text end,
      case when ins or new.freeform_text is distinct from old.freeform_text then new.freeform_text end,
      case when ins or new.admin_notes is distinct from old.admin_notes then new.admin_notes end,
      case when ins or new.rejection_reason is distinct from old.rejection_reason then new.rejection_reason end,
      case when ins or new.session_id is distinct from old.session_id then new.session_id end)), false) then
    return new;
  end if;

  -- Only changed values are checked, so a legacy value left alone never blocks an
  -- unrelated edit (scan and migrate deal with those).
  if ins or new.name is distinct from old.name then
    perform private.media_guard_text('talent_profiles', 'name', new.name);
  end if;
  if ins or new.email is distinct from old.email then
    perform private.media_guard_text('talent_profiles', 'email', new.email);
  end if;
  if ins or new.phone is distinct from old.phone then
    perform private.media_guard_text('talent_profiles', 'phone', new.phone);
  end if;
  if ins or new.location is distinct from old.location then
    perform private.media_guard_text('talent_profiles', 'location', new.location);
  end if;
  if ins or new.tone_categories is distinct from old.tone_categories then
    perform private.media_guard_array('talent_profiles', 'tone_categories', new.tone_categories);
  end if;
  if ins or new.personality_traits is distinct from old.personality_traits then
    perform private.media_guard_jsonb('talent_profiles', 'personality_traits', new.personality_traits);
  end if;
  if ins or new.custom_tone is distinct from old.custom_tone then
    perform private.media_guard_text('talent_profiles', 'custom_tone', new.custom_tone);
  end if;
  if ins or new.predefined_answers is distinct from old.predefined_answers then
    perform private.media_guard_jsonb('talent_profiles', 'predefined_answers', new.predefined_answers);
  end if;
  if ins or new.freeform_text is distinct from old.freeform_text then
    perform private.media_guard_text('talent_profiles', 'freeform_text', new.freeform_text);
  end if;
  if ins or new.admin_notes is distinct from old.admin_notes then
    perform private.media_guard_text('talent_profiles', 'admin_notes', new.admin_notes);
  end if;
  if ins or new.rejection_reason is distinct from old.rejection_reason then
    perform private.media_guard_text('talent_profiles', 'rejection_reason', new.rejection_reason);
  end if;
  if ins or new.session_id is distinct from old.session_id then
    perform private.media_guard_text('talent_profiles', 'session_id', new.session_id);
  end if;
  return new;
end
$$;

create function private.onboarding_progress_media_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  ins boolean := tg_op = 'INSERT';
begin
  if not coalesce(private.media_suspect(concat_ws(chr(1),
      case when ins or new.session_id is distinct from old.session_id then new.session_id end,
      case when ins or new.form_data is distinct from old.form_data then new.form_data::text end)), false) then
    return new;
  end if;
  if ins or new.session_id is distinct from old.session_id then
    perform private.media_guard_text('onboarding_progress', 'session_id', new.session_id);
  end if;
  if ins or new.form_data is distinct from old.form_data then
    perform private.media_guard_jsonb('onboarding_progress', 'form_data', new.form_data);
  end if;
  return new;
end
$$;

create trigger talent_profiles_z_media_guard
  before insert or update on public.talent_profiles
  for each row execute function private.talent_profiles_media_guard();

create trigger onboarding_progress_z_media_guard
  before insert or update on public.onboarding_progress
  for each row execute function private.onboarding_progress_media_guard();

revoke all on function
  private.media_storage_base_url(), private.media_url_fast(text, text, text), private.media_pct_decode(text), private.media_magic_type(text),
  private.media_check_string(text, text, text), private.media_path_key(text),
  private.media_check_jsonb(jsonb, text), private.media_refuse(text, text, text, text, text),
  private.media_guard_text(text, text, text, text, text), private.media_guard_array(text, text, text[], text, text),
  private.media_guard_jsonb(text, text, jsonb), private.media_suspect(text),
  private.talent_profiles_media_guard(), private.onboarding_progress_media_guard()
  from public;
grant execute on function
  private.media_storage_base_url(), private.media_url_fast(text, text, text), private.media_pct_decode(text), private.media_magic_type(text),
  private.media_check_string(text, text, text), private.media_path_key(text),
  private.media_check_jsonb(jsonb, text), private.media_refuse(text, text, text, text, text),
  private.media_guard_text(text, text, text, text, text), private.media_guard_array(text, text, text[], text, text),
  private.media_guard_jsonb(text, text, jsonb), private.media_suspect(text)
  to authenticated, service_role;
