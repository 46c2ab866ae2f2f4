-- The media URL fast path missed the URL-safe JPEG magic number.
--
-- private.media_url_fast accepts an object URL without running the full rule when its
-- path is lower-case letters, digits and . _ - / without "/9j/". But a path may hold
-- "_9j_", which the full rule reads (after mapping the URL-safe alphabet to the
-- standard one) as the start of a base64 JPEG when a run of 16 or more begins with it:
--   .../headshots/<uid>/_9j_4aaqskzjrgabaq.jpg
-- private.media_check_string refuses that URL, while the trigger let it through its
-- fast path. Now the fast path leaves such a URL to the full rule (the Go twin, fastURL
-- in sidecar/internal/mediaguard/rule.go, likewise); the shared corpus holds the case.

create or replace function private.media_url_fast(v text, bucket text, base text) returns boolean
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
     and strpos(path, '_9j_') = 0
     and (q = 0 or translate(substr(rest, q), E'# \t\n\r\f' || chr(11), '') = substr(rest, q));
end
$$;
