// Calls the generated types refuse. Each line after `@ts-expect-error` must fail to
// compile; if a migration made one of them valid (or the types lost their precision,
// say a status column back to `string`), tsc reports the directive as unused and
// `make test` fails. Compiled only, never run.
import type { Client } from './client'

export async function refused(supabase: Client, id: string, ids: string[]) {
  // A status outside the talent_status enum, written...
  // @ts-expect-error 'archived' is not a talent_status
  await supabase.from('talent_profiles').update({ status: 'archived' }).eq('id', id)
  // ...or filtered on.
  // @ts-expect-error 'archived' is not a talent_status
  await supabase.from('talent_profiles').select('id').eq('status', 'archived')

  // A column that does not exist.
  // @ts-expect-error talent_profiles has no column nickname
  await supabase.from('talent_profiles').update({ nickname: 'Ada' }).eq('id', id)
  const { data: selected } = await supabase.from('talent_profiles').select('id, nickname').eq('id', id).single()
  // @ts-expect-error selecting a missing column yields an error type, not a row
  const nickname: string | undefined = selected?.nickname

  // A table that does not exist (the wizard's progress is onboarding_progress).
  // @ts-expect-error no table onboarding_drafts
  await supabase.from('onboarding_drafts').select('*')

  // A value of the wrong type: current_step is an integer.
  // @ts-expect-error current_step is a number
  await supabase.from('onboarding_progress').update({ current_step: 'two' }).eq('user_id', id)

  // Email types and statuses are enums too.
  // @ts-expect-error 'newsletter' is not an email_type
  await supabase.from('email_templates').update({ subject: 'Hello' }).eq('name', 'newsletter')
  // @ts-expect-error 'opened' is not an email_status
  await supabase.from('email_notifications').select('id').eq('status', 'opened')

  // RPCs: an action admin_bulk_update does not perform...
  // @ts-expect-error 'archive' is not an admin_bulk_action
  await supabase.rpc('admin_bulk_update', { ids, action: 'archive' })
  // ...an argument by the wrong name...
  // @ts-expect-error the argument is ids, not talent_ids
  await supabase.rpc('admin_bulk_update', { talent_ids: ids, action: 'approve' })
  // ...of the wrong type...
  // @ts-expect-error since is a timestamp string
  await supabase.rpc('admin_analytics', { since: 30 })
  // ...or a function that does not exist.
  // @ts-expect-error no function admin_bulk_delete
  await supabase.rpc('admin_bulk_delete', { ids })

  // admin_analytics' by_status is a list of {status, count}, not an object by status.
  const { data: figures } = await supabase.rpc('admin_analytics', {})
  // @ts-expect-error by_status is an array
  const active: number = figures?.by_status?.['active']

  return { nickname, active }
}

// Not expressible in the types: who may write which column. The generated Update
// type is the same for every role, so a talent writing admin_notes, or an admin
// writing a talent's answers, compiles; the database refuses it (42501), and the
// pgTAP suite (supabase/tests/database) checks that it does.
