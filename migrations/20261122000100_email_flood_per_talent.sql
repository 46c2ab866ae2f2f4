-- Flood control now counts a recipient's recent emails about one talent (a talent
-- whose status flips is held back after the limit; an admin, who gets a notice
-- about every submission, only for a talent resubmitting in a loop). Every count
-- looks up the talent's emails through email_notifications_talent_profile_idx, so
-- the index on (lower(recipient_email), created_at) no longer serves a query, and
-- it cost every queued email an index entry.
drop index if exists public.email_notifications_recipient_created_idx;
