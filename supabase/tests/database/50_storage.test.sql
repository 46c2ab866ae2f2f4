-- Storage: talents read and write only '<their id>/...' in the three media buckets;
-- admins read every talent's media; anything else is refused.
begin;
\ir _helpers.psql
select plan(27);

select tests.new_user('talent_a');
select tests.new_user('talent_b');
select tests.new_user('admin', 'admin');
insert into storage.buckets (id, name, public) values ('other-bucket', 'other-bucket', false) on conflict do nothing;

create function tests.put(bucket text, path text) returns text language sql as $$
  select tests.error_of(format('insert into storage.objects (bucket_id, name, owner, metadata) values (%L, %L, auth.uid(), %L)',
                               bucket, path, '{"mimetype": "image/jpeg", "size": 1000}'))
$$;

select tests.as_anon();
select is_empty('select * from storage.objects', 'anon sees no objects');
select throws_ok(format('insert into storage.objects (bucket_id, name) values (%L, %L)', 'headshots', tests.id('talent_a') || '/a.jpg'),
  '42501', null, 'anon cannot upload');

select tests.as_user('talent_a');
select is(tests.put(b, tests.id('talent_a') || '/' || f), null, format('a talent uploads to their own folder in %s', b))
  from (values ('headshots', 'h1.jpg'), ('video-samples', 'v.mp4'), ('interview-audio', 'a.m4a')) x (b, f);
select is(tests.put('headshots', tests.id('talent_a') || '/2024/h2.jpg'), null, 'a talent uploads into a subfolder of their folder');
select alike(tests.put('headshots', tests.id('talent_b') || '/fake.jpg'), '42501: new row violates row-level security policy%',
  'a talent cannot upload into another user''s folder');
select alike(tests.put('headshots', 'loose.jpg'), '42501:%', 'a talent cannot upload outside any folder');
select alike(tests.put('other-bucket', tests.id('talent_a') || '/x.jpg'), '42501:%', 'a talent cannot upload to another bucket');
select alike(tests.put('headshots', upper(tests.id('talent_a')::text) || '/x.jpg'), '42501:%', 'the folder must be the exact user id');
select is(tests.visible('storage.objects'), 4, 'a talent sees their own objects');
select is(tests.affected(format('update storage.objects set metadata = %L where name = %L', '{"size": 2}', tests.id('talent_a') || '/h1.jpg')),
  1, 'a talent updates their own object');
select throws_ok(format('update storage.objects set name = %L where name = %L', tests.id('talent_b') || '/moved.jpg', tests.id('talent_a') || '/h1.jpg'),
  '42501', null, 'a talent cannot move an object into another user''s folder');
select throws_ok(format('update storage.objects set bucket_id = %L where name = %L', 'other-bucket', tests.id('talent_a') || '/h1.jpg'),
  '42501', null, 'a talent cannot move an object into another bucket');

select tests.as_user('talent_b');
select is_empty(format('select * from storage.objects where name like %L', tests.id('talent_a') || '/%'), 'another talent does not see the objects');
select is(tests.affected(format('update storage.objects set metadata = %L where name like %L', '{}', tests.id('talent_a') || '/%')),
  0, 'another talent updates 0 objects');
select is(tests.affected(format('delete from storage.objects where name like %L', tests.id('talent_a') || '/%')),
  0, 'another talent deletes 0 objects');

select tests.as_user('admin');
select is(tests.visible('storage.objects', format('name like %L', tests.id('talent_a') || '/%')), 4, 'an admin reads a talent''s media');
select is(tests.affected(format('delete from storage.objects where name like %L', tests.id('talent_a') || '/%')),
  0, 'an admin cannot delete a talent''s media');
select is(tests.affected(format('update storage.objects set metadata = %L where name like %L', '{}', tests.id('talent_a') || '/%')),
  0, 'an admin cannot change a talent''s media');
select alike(tests.put('headshots', tests.id('talent_a') || '/planted.jpg'), '42501:%', 'an admin cannot upload into a talent''s folder');

select tests.as_user('talent_a');
select is(tests.affected(format('delete from storage.objects where name = %L', tests.id('talent_a') || '/2024/h2.jpg')),
  1, 'a talent deletes their own object');
select throws_ok($$insert into storage.buckets (id, name, public) values ('mine', 'mine', true)$$,
  '42501', null, 'a talent cannot create buckets');
select is(tests.affected($$update storage.buckets set public = true where id = 'headshots'$$), 0, 'a talent cannot make a bucket public');

select tests.as_service();
select is(tests.visible('storage.objects', format('name like %L', tests.id('talent_a') || '/%')), 3, 'service_role sees every object');

select tests.as_postgres();
select results_eq($$select id, public from storage.buckets where id in ('headshots', 'video-samples', 'interview-audio') order by id$$,
  $$values ('headshots'::text, false), ('interview-audio', false), ('video-samples', false)$$, 'the three media buckets exist and are private');
select is_empty($$select id from storage.buckets where id in ('headshots', 'video-samples', 'interview-audio')
                  and (file_size_limit is null or allowed_mime_types is null)$$, 'every media bucket has a size limit and MIME types');

select * from finish();
rollback;
