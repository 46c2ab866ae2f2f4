-- The media guard's fast path builds less per transaction (issue 24).
--
-- PL/pgSQL builds the state of each expression it evaluates once per transaction (a
-- PostgREST request is one), in an executor state that lives until the transaction
-- ends; building it costs CPU and memory in proportion to the expression, whether or
-- not every part of it is then evaluated. The fast path of migration 20261203200100
-- was one expression per operation, and the UPDATE one repeated
-- `case when new.email is distinct from old.email then new.email end` in each of its
-- seven e-mail tests: a talent's request-shaped update took 164 KB of that executor
-- state (84 KB used), against 33 KB with a trigger that only returns. The memory
-- counts as well as the CPU: docs/performance.md, "The heap that came and went".
--
-- Now:
--   * UPDATE builds the media URL expression only when a URL column changed, and the
--     e-mail's tests only when the e-mail changed (rarely: it is the account's), each
--     a statement of its own that is otherwise never reached and so never built;
--   * the e-mail's seven tests are one small regular expression and a length: no
--     '%', ':', "9j", ASCII upper case, line break or backslash, and shorter than 64
--     bytes. media_suspect then has nothing to find (every magic number but /9j/ and
--     _9j_ has an ASCII upper-case letter; the a: form needs ':'; its 64-character
--     runs need 64 bytes; its line-break test needs a line break or a backslash);
--   * each headshot URL is held to 512 bytes by a loop, one small expression per
--     element, where the old expression held all of them joined to 512 bytes (no
--     built-in gives an array's longest element). media_url_fast wants every URL
--     under 512 characters (the full rule refuses a path holding a 512-character
--     base64 run); a hosted project's Storage URLs are about 130 bytes
--     (https://<ref>.supabase.co/storage/v1/object/public/headshots/<user>/<file>),
--     so a talent with four headshots or more (the table allows ten) took the full
--     checks on every write that touched them. A null element passes the loop and
--     fails the URL expression's line test, as before;
--   * otherwise the URL and free-text expressions are those of migration
--     20261203200100.
-- The same update now takes 64 KB (50 KB used), an insert 64 KB (58 KB used) instead
-- of 82 KB (66 KB used). The verdicts stay the full checks' own: when the fast path
-- says no, the full checks below run, unchanged; fastpath_test.go writes the corpus
-- and generated rows (long, short and many headshots among them) through the
-- trigger and compares every row the fast path decided with the full rule.
--
-- Measured (BenchmarkGuardWrites, typical rows, CPU unguarded / guarded, five runs
-- each, this function and the one it replaces alternating, the cluster started as
-- scripts/db.sh now starts it): insert 0.88 (0.83-0.90) against 0.81 (0.79-0.86),
-- update 0.86 (0.83-0.91) against 0.82 (0.82-0.85), the talent's request-shaped
-- insert 0.86 (0.81-0.90) against 0.85 (0.83-0.88), update 0.87 (0.86-0.90) against
-- 0.83 (0.80-0.87).
--
-- The headshot bound (three runs of -bench 'GuardWrites/(typical|arrays50)',
-- median (range), against the make bench of the same day with the joined bound):
-- the arrays50 rows (ten headshots), insert 0.77 (0.75-0.77), update 0.87
-- (0.85-0.88), the request-shaped insert 0.82 (0.79-0.84), update 0.84 (0.78-0.85),
-- against 0.56, 0.62, 0.62, 0.65; typical rows (three headshots) unchanged: 0.90,
-- 0.87; 0.90, 0.83.

create or replace function private.talent_profiles_media_guard() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  fast boolean := true;
  ins boolean;
  heads boolean;
  video boolean;
  audio boolean;
  base text;
  u text;
begin
  -- Fast path (see the tops of migrations 20261203200100 and 20261203230000): a loop
  -- and three small expressions of built-in functions say every media URL is what
  -- private.media_url_fast accepts, and the e-mail and every free-text value are what
  -- private.media_suspect flags nothing in; the base URL parts are folded into
  -- constants at plan time. The URL and e-mail tests run only on INSERT or when an
  -- UPDATE changed one of their columns. fast = false (or null) means "run the full
  -- checks below", never "refuse".
  -- Each headshot URL shorter than 512 bytes, as media_url_fast demands (no built-in
  -- gives an array's longest element in an expression). An UPDATE that leaves
  -- headshot_urls alone has no headshot line in its expression below.
  if tg_op = 'INSERT' or new.headshot_urls is distinct from old.headshot_urls then
    foreach u in array new.headshot_urls loop
      if octet_length(u) >= 512 then
        fast := false;
        exit;
      end if;
    end loop;
  end if;
  if tg_op = 'INSERT' then
    fast := fast and coalesce(octet_length(new.video_sample_url), 0) < 512
       and coalesce(octet_length(new.freeform_audio_url), 0) < 512
       and strpos(concat(array_to_string(new.headshot_urls, ''), new.video_sample_url, new.freeform_audio_url), '9j') = 0
       and strpos(concat(array_to_string(new.headshot_urls, ''), new.video_sample_url, new.freeform_audio_url), E'\n') = 0
       and replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(concat(case when cardinality(new.headshot_urls) > 0 then 'h' || array_to_string(new.headshot_urls, E'\nh', '') || E'\n' end,
                  case when new.video_sample_url <> '' then 'v' || new.video_sample_url || E'\n' end,
                  case when new.freeform_audio_url <> '' then 'a' || new.freeform_audio_url || E'\n' end), 'h' || private.media_storage_base_url() || '/storage/v1/object/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/public/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/sign/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/authenticated/headshots/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/public/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/sign/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/authenticated/video-samples/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/public/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/sign/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/authenticated/interview-audio/', chr(1))
           ~ '^(?:\u0001[a-z0-9._/-]+(?:\?[^# \t\n\r\f\v]*)?\n)*$'
       and coalesce(new.email, '') !~ '[%:A-Z\n\\]|9j' and octet_length(coalesce(new.email, '')) < 64
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
           !~ '%|[aA](?:[ \t\n\r\f\v]|\\[ntrf]|\\u000[bB])*:|[A-Za-z0-9+/_-]{16}';
  else
    if new.headshot_urls is distinct from old.headshot_urls
       or new.video_sample_url is distinct from old.video_sample_url
       or new.freeform_audio_url is distinct from old.freeform_audio_url then
      fast := fast and coalesce(octet_length(new.video_sample_url), 0) < 512
       and coalesce(octet_length(new.freeform_audio_url), 0) < 512
       and strpos(concat(array_to_string(new.headshot_urls, ''), new.video_sample_url, new.freeform_audio_url), '9j') = 0
       and strpos(concat(array_to_string(new.headshot_urls, ''), new.video_sample_url, new.freeform_audio_url), E'\n') = 0
       and replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(concat(case when cardinality(new.headshot_urls) > 0 and new.headshot_urls is distinct from old.headshot_urls then 'h' || array_to_string(new.headshot_urls, E'\nh', '') || E'\n' end,
                  case when new.video_sample_url <> '' and new.video_sample_url is distinct from old.video_sample_url then 'v' || new.video_sample_url || E'\n' end,
                  case when new.freeform_audio_url <> '' and new.freeform_audio_url is distinct from old.freeform_audio_url then 'a' || new.freeform_audio_url || E'\n' end), 'h' || private.media_storage_base_url() || '/storage/v1/object/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/public/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/sign/headshots/', chr(1)), 'h' || private.media_storage_base_url() || '/storage/v1/object/authenticated/headshots/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/public/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/sign/video-samples/', chr(1)), 'v' || private.media_storage_base_url() || '/storage/v1/object/authenticated/video-samples/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/public/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/sign/interview-audio/', chr(1)), 'a' || private.media_storage_base_url() || '/storage/v1/object/authenticated/interview-audio/', chr(1))
           ~ '^(?:\u0001[a-z0-9._/-]+(?:\?[^# \t\n\r\f\v]*)?\n)*$';
    end if;
    if fast and new.email is distinct from old.email then
      fast := coalesce(new.email, '') !~ '[%:A-Z\n\\]|9j' and octet_length(coalesce(new.email, '')) < 64;
    end if;
    fast := fast and concat_ws(chr(1),
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
           !~ '%|[aA](?:[ \t\n\r\f\v]|\\[ntrf]|\\u000[bB])*:|[A-Za-z0-9+/_-]{16}';
  end if;
  if fast then
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
