-- The media guard's fast path, inline (issue 24): a typical write evaluates one
-- expression of built-in functions instead of ~20 PL/pgSQL expressions and seven calls
-- of functions with a SET clause.
--
-- Before, private.talent_profiles_media_guard called private.media_url_fast once per
-- media URL and private.media_suspect once over the changed free text. Each is a
-- PL/pgSQL function with `SET search_path = ''`: every call saves and restores the
-- GUC and parses search_path again, and PL/pgSQL builds the state of every expression
-- it evaluates again in every transaction (a PostgREST request is one). Together they
-- cost a typical write about a third of its CPU.
--
-- Now the trigger starts with one expression per operation (INSERT, UPDATE), built-in
-- functions and operators only (pg_catalog is always searched, so `SET search_path =
-- ''` on the trigger still pins everything), that says "every media URL to check is
-- one media_url_fast accepts, and no changed free-text value is one media_suspect
-- flags":
--   * media URLs: each changed, non-empty URL column goes into one string, a line per
--     URL tagged with its column (h, v, a); replace() turns every tag followed by
--     <base>/storage/v1/object/[public/|sign/|authenticated/]<the column's bucket>/
--     into chr(1), and one small regular expression demands that every line is
--     chr(1), a path of lower-case letters, digits and . _ - /, and an optional query
--     free of blanks and '#'. Besides, no URL column holds "9j" (the JPEG magic
--     number /9j/ or _9j_) and each is shorter than 512 bytes (so every URL is
--     shorter than 512 characters), and none holds a line break: a value with one
--     would read as several lines, "…/a.jpg\nh<another URL>" as two clean ones.
--     These are media_url_fast's conditions, some stricter; a null element never
--     passes either.
--   * e-mail: no '%', ':', "9j", upper case, line break (real or \n) and shorter
--     than 64 bytes, which leaves media_suspect nothing to find (every magic number
--     but /9j/ and _9j_ has an upper-case letter), without a regular expression;
--   * the other free text (one string, as before): one small regular expression,
--     '%', "a:" (media_suspect's form) or 16 base64 characters in a row, must not
--     match; media_suspect flags nothing without one of them.
-- Only replace(), strpos(), lower(), octet_length() and two small regular
-- expressions: regular expressions with many states (the magic numbers' alternation,
-- counted runs of 64, long literal prefixes) cost far more per call than they do in
-- one query over many rows (Postgres builds their automaton's states afresh in every
-- match), and were measured at 60 to 500 µs a write.
-- The base URL enters through private.media_storage_base_url(), which is immutable:
-- Postgres folds it into constants when it plans the expression (once per session),
-- and media_settings_apply replacing that function invalidates the plan, so a new
-- base applies at once, in every session (supabase/tests/database/media_guard.test.sql
-- checks it).
-- When the expression is false (or null), the trigger runs the checks it ran before,
-- unchanged: the same writes are refused with the same errors. The fast path is never
-- the one that refuses; sidecar/internal/mediaguard/fastpath_test.go writes the corpus
-- and generated rows through the trigger, sees which ones the fast path decided (no
-- call of the full checks' functions) and checks every verdict against the full rule.
-- onboarding_progress's guard gets the free-text expression the same way.
--
-- Measured (docs/performance.md, "Where the guard's time goes"): see there.

create or replace function private.talent_profiles_media_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  ins boolean;
  heads boolean;
  video boolean;
  audio boolean;
  base text;
  u text;
begin
  -- Fast path (see the top of this file): one expression of built-in functions per
  -- operation says every media URL to check is what private.media_url_fast accepts
  -- and no changed free text is what private.media_suspect flags; the base URL
  -- parts are folded into constants at plan time. false or null means "run the full
  -- checks below", never "refuse".
  if tg_op = 'INSERT' then
    if coalesce(octet_length(array_to_string(new.headshot_urls, E'\n')), 0) < 512
       and coalesce(octet_length(new.video_sample_url), 0) < 512
       and coalesce(octet_length(new.freeform_audio_url), 0) < 512
       and strpos(concat(array_to_string(new.headshot_urls, ''), new.video_sample_url, new.freeform_audio_url), '9j') = 0
       and strpos(concat(array_to_string(new.headshot_urls, ''), new.video_sample_url, new.freeform_audio_url), E'\n') = 0
       and replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(concat(case when cardinality(new.headshot_urls) > 0 then 'h' || array_to_string(new.headshot_urls, E'\nh', '') || E'\n' end,
                  case when new.video_sample_url <> '' then 'v' || new.video_sample_url || E'\n' end,
                  case when new.freeform_audio_url <> '' then 'a' || new.freeform_audio_url || E'\n' end), 'h' || private.media_storage_base_url() || '/storage/v1/object/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/public/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/sign/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/authenticated/headshots/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/public/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/sign/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/authenticated/video-samples/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/public/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/sign/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/authenticated/interview-audio/', chr(1))
           ~ '^(?:\u0001[a-z0-9._/-]+(?:\?[^# \t\n\r\f\v]*)?\n)*$'
       and strpos(coalesce(new.email, ''), '%') = 0 and strpos(coalesce(new.email, ''), ':') = 0 and strpos(coalesce(new.email, ''), '9j') = 0
       and lower(coalesce(new.email, '')) = coalesce(new.email, '') and coalesce(octet_length(new.email), 0) < 64
       and strpos(coalesce(new.email, ''), E'\n') = 0 and strpos(coalesce(new.email, ''), '\n') = 0
       and concat_ws(chr(1),
             new.name,
             new.phone,
             new.location,
             array_to_string(new.tone_categories, chr(1)),
             new.personality_traits::text,
             new.custom_tone,
             new.predefined_answers::text,
             new.freeform_text,
             new.admin_notes,
             new.rejection_reason,
             new.session_id)
           !~ '%|[aA](?:[ \t\n\r\f\v]|\\[ntrf]|\\u000[bB])*:|[A-Za-z0-9+/_-]{16}'
    then
      return new;
    end if;
  elsif coalesce(octet_length(array_to_string(new.headshot_urls, E'\n')), 0) < 512
       and coalesce(octet_length(new.video_sample_url), 0) < 512
       and coalesce(octet_length(new.freeform_audio_url), 0) < 512
       and strpos(concat(array_to_string(new.headshot_urls, ''), new.video_sample_url, new.freeform_audio_url), '9j') = 0
       and strpos(concat(array_to_string(new.headshot_urls, ''), new.video_sample_url, new.freeform_audio_url), E'\n') = 0
       and replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(concat(case when cardinality(new.headshot_urls) > 0 and new.headshot_urls is distinct from old.headshot_urls then 'h' || array_to_string(new.headshot_urls, E'\nh', '') || E'\n' end,
                  case when new.video_sample_url <> '' and new.video_sample_url is distinct from old.video_sample_url then 'v' || new.video_sample_url || E'\n' end,
                  case when new.freeform_audio_url <> '' and new.freeform_audio_url is distinct from old.freeform_audio_url then 'a' || new.freeform_audio_url || E'\n' end), 'h' || private.media_storage_base_url() || '/storage/v1/object/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/public/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/sign/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/authenticated/headshots/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/public/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/sign/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/authenticated/video-samples/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/public/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/sign/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/authenticated/interview-audio/', chr(1))
           ~ '^(?:\u0001[a-z0-9._/-]+(?:\?[^# \t\n\r\f\v]*)?\n)*$'
       and strpos(coalesce(case when new.email is distinct from old.email then new.email end, ''), '%') = 0 and strpos(coalesce(case when new.email is distinct from old.email then new.email end, ''), ':') = 0 and strpos(coalesce(case when new.email is distinct from old.email then new.email end, ''), '9j') = 0
       and lower(coalesce(case when new.email is distinct from old.email then new.email end, '')) = coalesce(case when new.email is distinct from old.email then new.email end, '') and coalesce(octet_length(case when new.email is distinct from old.email then new.email end), 0) < 64
       and strpos(coalesce(case when new.email is distinct from old.email then new.email end, ''), E'\n') = 0 and strpos(coalesce(case when new.email is distinct from old.email then new.email end, ''), '\n') = 0
       and concat_ws(chr(1),
             case when new.name is distinct from old.name then new.name end,
             case when new.phone is distinct from old.phone then new.phone end,
             case when new.location is distinct from old.location then new.location end,
             case when new.tone_categories is distinct from old.tone_categories then array_to_string(new.tone_categories, chr(1)) end,
             case when new.personality_traits is distinct from old.personality_traits then new.personality_traits::text end,
             case when new.custom_tone is distinct from old.custom_tone then new.custom_tone end,
             case when new.predefined_answers is distinct from old.predefined_answers then new.predefined_answers::text end,
             case when new.freeform_text is distinct from old.freeform_text then new.freeform_text end,
             case when new.admin_notes is distinct from old.admin_notes then new.admin_notes end,
             case when new.rejection_reason is distinct from old.rejection_reason then new.rejection_reason end,
             case when new.session_id is distinct from old.session_id then new.session_id end)
           !~ '%|[aA](?:[ \t\n\r\f\v]|\\[ntrf]|\\u000[bB])*:|[A-Za-z0-9+/_-]{16}'
  then
    return new;
  end if;

  ins := tg_op = 'INSERT';
  heads := cardinality(new.headshot_urls) > 0 and (ins or new.headshot_urls is distinct from old.headshot_urls);
  video := coalesce(new.video_sample_url, '') <> '' and (ins or new.video_sample_url is distinct from old.video_sample_url);
  audio := coalesce(new.freeform_audio_url, '') <> '' and (ins or new.freeform_audio_url is distinct from old.freeform_audio_url);
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

-- onboarding_progress: the same free-text expression in place of media_suspect.
create or replace function private.onboarding_progress_media_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  ins boolean;
begin
  if (case when tg_op = 'INSERT' then concat_ws(chr(1), new.session_id, new.form_data::text)
          else concat_ws(chr(1),
                 case when new.session_id is distinct from old.session_id then new.session_id end,
                 case when new.form_data is distinct from old.form_data then new.form_data::text end)
     end)
     !~ '%|[aA](?:[ \t\n\r\f\v]|\\[ntrf]|\\u000[bB])*:|[A-Za-z0-9+/_-]{16}'
  then
    return new;
  end if;
  ins := tg_op = 'INSERT';
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
