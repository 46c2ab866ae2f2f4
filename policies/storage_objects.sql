-- storage.objects: talent media lives under '<user id>/...' in three buckets. A talent
-- reads and writes only their own folder; admins read every talent's media.
-- Bucket size and MIME limits are enforced by Storage from storage.buckets.
create policy talent_media_select_own on storage.objects
  for select to authenticated
  using (
    bucket_id in ('headshots', 'video-samples', 'interview-audio')
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

create policy talent_media_insert_own on storage.objects
  for insert to authenticated
  with check (
    bucket_id in ('headshots', 'video-samples', 'interview-audio')
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

create policy talent_media_update_own on storage.objects
  for update to authenticated
  using (
    bucket_id in ('headshots', 'video-samples', 'interview-audio')
    and (storage.foldername(name))[1] = (select auth.uid())::text
  )
  with check (
    bucket_id in ('headshots', 'video-samples', 'interview-audio')
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

create policy talent_media_delete_own on storage.objects
  for delete to authenticated
  using (
    bucket_id in ('headshots', 'video-samples', 'interview-audio')
    and (storage.foldername(name))[1] = (select auth.uid())::text
  );

create policy talent_media_select_admin on storage.objects
  for select to authenticated
  using (
    bucket_id in ('headshots', 'video-samples', 'interview-audio')
    and (select private.is_admin())
  );
