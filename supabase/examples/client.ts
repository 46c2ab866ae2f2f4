// The frontend's supabase-js client, typed by the generated supabase/types/database.ts.
// Every file here is compiled by `make test` (tsc --noEmit, strict) and never run: a
// renamed column, status or RPC argument in a migration breaks the build here first.
import { createClient, type QueryData, type SupabaseClient } from '@supabase/supabase-js'
import type { Database, Enums } from '../types/database'

export type Client = SupabaseClient<Database>

// A profile as `select('*')` returns it. (Not Tables<'talent_profiles'>: postgres-meta
// lists the computed relationships admin_actions and email_notifications among its
// Row's fields, and PostgREST returns them only when a select embeds them.)
const profileQuery = (supabase: Client) => supabase.from('talent_profiles').select()
export type TalentProfile = QueryData<ReturnType<typeof profileQuery>>[number]
export type TalentStatus = Enums<'talent_status'>
export type EmailType = Enums<'email_type'>
export type EmailStatus = Enums<'email_status'>
export type BulkAction = Enums<'admin_bulk_action'>

// The anon key is public; RLS policies and triggers decide what each user may do.
export function connect(supabaseUrl: string, anonKey: string): Client {
  return createClient<Database>(supabaseUrl, anonKey)
}

// PostgREST's errors carry Postgres' SQLSTATE: 42501 (HTTP 403) for a change the
// caller may not make, 23514 (400) for an invalid status transition (message names
// it, details lists the allowed ones), 22P02 (400) for a value outside an enum.
export function explain(error: { code: string; message: string; details: string }): string {
  switch (error.code) {
    case '42501':
      return `not allowed: ${error.message}`
    case '23514':
      return `${error.message}. ${error.details}`
    default:
      return error.message
  }
}
