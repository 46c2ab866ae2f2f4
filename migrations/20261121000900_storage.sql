-- Storage buckets for talent media. Limits match supabase/config.toml. Objects live
-- under '<user id>/...' so folder policies can tie them to their owner.
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types) values
  ('headshots', 'headshots', false, 10485760,
   array['image/jpeg', 'image/png', 'image/webp', 'image/heic']),
  ('video-samples', 'video-samples', false, 262144000,
   array['video/mp4', 'video/quicktime', 'video/webm']),
  ('interview-audio', 'interview-audio', false, 52428800,
   array['audio/mpeg', 'audio/mp4', 'audio/wav', 'audio/x-wav', 'audio/webm', 'audio/ogg', 'audio/aac'])
on conflict (id) do update set
  public = excluded.public,
  file_size_limit = excluded.file_size_limit,
  allowed_mime_types = excluded.allowed_mime_types;
