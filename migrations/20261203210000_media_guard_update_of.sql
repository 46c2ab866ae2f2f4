-- The media guard fires on an UPDATE only when the statement sets a guarded column
-- (issue 24).
--
-- An admin's status change, a talent's submit, the sidecar's own bookkeeping: most
-- updates of talent_profiles set no column the guard checks, yet each ran the guard's
-- trigger function, and a PostgREST request is one transaction, in which PL/pgSQL
-- builds the state of the fast path's expressions again. `UPDATE OF <columns>` lets
-- Postgres decide from the statement's SET list, in C, before any function is called.
--
-- What a statement does not set keeps its old value, which the guard checked when it
-- was written (the function already skips unchanged columns). The one other way a
-- column changes is a BEFORE trigger assigning it: the only other BEFORE trigger here,
-- the state machine (talent_profiles_before_write), assigns status timestamps,
-- row_version, updated_at, updated_by and created_at, none of them guarded. A trigger
-- added later that assigns a guarded column must be checked by the guard itself.
-- The column lists are mediaguard's guardedColumns (a Go test keeps them equal).
-- INSERT still fires the guard on every row.

drop trigger talent_profiles_z_media_guard on public.talent_profiles;
create trigger talent_profiles_z_media_guard
  before insert or update of name, email, phone, location, headshot_urls, video_sample_url,
    freeform_audio_url, tone_categories, personality_traits, custom_tone, predefined_answers,
    freeform_text, admin_notes, rejection_reason, session_id
  on public.talent_profiles
  for each row execute function private.talent_profiles_media_guard();

drop trigger onboarding_progress_z_media_guard on public.onboarding_progress;
create trigger onboarding_progress_z_media_guard
  before insert or update of session_id, form_data on public.onboarding_progress
  for each row execute function private.onboarding_progress_media_guard();
