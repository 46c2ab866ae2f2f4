// The admin dashboard (PON-47: TalentTableFilters, BulkOperation, analytics, email
// configuration). An admin is a row in admin_users; the same client and anon key as a
// talent, with RLS deciding what each sees and changes.
import type { RealtimeChannel } from '@supabase/supabase-js'
import type { BulkAction, Client, EmailStatus, EmailType, TalentProfile, TalentStatus } from './client'
import type { TablesUpdate } from '../types/database'

// The spec's TalentTableFilters, plus sorting and paging.
export interface TalentTableFilters {
  search: string
  status: TalentStatus | 'all'
  dateRange: { start: string; end: string }
}
export type SortColumn = 'created_at' | 'submitted_at' | 'name' | 'status'

// The admin list: search by name or email, filter by status and submission date,
// sort, page with range() and get the total for the pager. Under RLS only the
// submission-date range and the created_at order can use an index: the status (an
// enum) and ilike comparisons are not leakproof (migration 20261203190100).
export async function listTalents(
  supabase: Client,
  filters: TalentTableFilters,
  sort: { column: SortColumn; ascending: boolean },
  page: { index: number; size: number },
) {
  let query = supabase
    .from('talent_profiles')
    .select('id, name, email, location, status, created_at, submitted_at, approved_at, headshot_urls', {
      count: 'exact',
    })
  if (filters.search.trim() !== '') {
    const term = filters.search.replace(/[%_,()]/g, ' ').trim()
    query = query.or(`name.ilike.%${term}%,email.ilike.%${term}%`)
  }
  if (filters.status !== 'all') query = query.eq('status', filters.status)
  if (filters.dateRange.start) query = query.gte('submitted_at', filters.dateRange.start)
  if (filters.dateRange.end) query = query.lt('submitted_at', filters.dateRange.end)
  const from = page.index * page.size
  const { data, count, error } = await query
    .order(sort.column, { ascending: sort.ascending, nullsFirst: false })
    .range(from, from + page.size - 1)
  if (error) throw error
  const rows: Pick<TalentProfile, 'id' | 'name' | 'email' | 'status' | 'submitted_at'>[] = data
  return { rows, total: count ?? 0 }
}

// One profile with its history: the audit log and the emails about it, embedded
// through the computed relationships that stand in for foreign keys.
export async function talentDetail(supabase: Client, id: string) {
  const { data, error } = await supabase
    .from('talent_profiles')
    .select('*, admin_actions(action_type, from_status, to_status, action_reason, created_at), email_notifications(email_type, status, sent_at)')
    .eq('id', id)
    .single()
  if (error) throw error
  return data
}

// Review one talent. The trigger enforces the state machine (23514 on an invalid
// transition) and lets an admin change only status, admin_notes and rejection_reason.
export type Review = Pick<TablesUpdate<'talent_profiles'>, 'status' | 'admin_notes' | 'rejection_reason'>

export async function review(supabase: Client, id: string, change: Review) {
  const { data, error } = await supabase
    .from('talent_profiles')
    .update(change)
    .eq('id', id)
    .select('id, status, approved_at, activated_at, rejection_reason')
    .single()
  if (error) throw error
  return data
}

export const approve = (supabase: Client, id: string) => review(supabase, id, { status: 'approved' })
export const reject = (supabase: Client, id: string, reason: string) =>
  review(supabase, id, { status: 'rejected', rejection_reason: reason })

// The spec's BulkOperation, as the RPC takes it: approve, reject (reason required),
// delete (super admins: 403 for an admin), activate, deactivate, reopen. One row change
// (and one audit row, with the reason) per talent, all or nothing.
export async function bulkUpdate(supabase: Client, op: { type: BulkAction; talentIds: string[]; reason?: string }) {
  const { data, error } = await supabase.rpc('admin_bulk_update', {
    ids: op.talentIds,
    action: op.type,
    ...(op.reason === undefined ? {} : { reason: op.reason }),
  })
  if (error) throw error
  const changed: { id: string; status: TalentStatus }[] = data
  return changed
}

export async function deleteTalent(supabase: Client, id: string): Promise<void> {
  const { error } = await supabase.from('talent_profiles').delete().eq('id', id)
  if (error) throw error
}

// Dashboard figures: counts by status, submissions per day, hours to review.
export async function analytics(supabase: Client, since: string, until: string) {
  const { data, error } = await supabase.rpc('admin_analytics', { since, until })
  if (error) throw error
  const byStatus = new Map<TalentStatus, number>()
  for (const s of data.by_status ?? []) if (s.status !== null) byStatus.set(s.status, s.count ?? 0)
  const perDay = (data.submissions_per_day ?? []).map((d) => ({ day: d.day ?? '', count: d.count ?? 0 }))
  const medianHours: number | null = data.review_hours?.p50 ?? null
  return { byStatus, perDay, medianHours, reviewed: data.review_hours?.reviewed ?? 0 }
}

// The audit log, newest first.
export async function auditLog(supabase: Client, page: { index: number; size: number }) {
  const from = page.index * page.size
  const { data, error } = await supabase
    .from('admin_actions')
    .select('id, action_type, from_status, to_status, action_reason, admin_user_id, talent_name, talent_email, created_at')
    .order('created_at', { ascending: false })
    .range(from, from + page.size - 1)
  if (error) throw error
  return data
}

// Email configuration: one settings row, one template per email type. Admins may
// change the content columns; the sidecar applies the change and reports back in
// applied_at / apply_error (a broken template never replaces the last good one).
export async function emailConfiguration(supabase: Client) {
  const [settings, templates] = await Promise.all([
    supabase.from('email_settings').select('*').single(),
    supabase.from('email_templates').select('*').order('name'),
  ])
  if (settings.error) throw settings.error
  if (templates.error) throw templates.error
  return { settings: settings.data, templates: templates.data }
}

export async function updateEmailSettings(
  supabase: Client,
  change: Pick<
    TablesUpdate<'email_settings'>,
    'enabled' | 'from_email' | 'from_name' | 'reply_to' | 'admin_recipients' | 'portal_url'
  >,
) {
  const { data, error } = await supabase
    .from('email_settings')
    .update(change)
    .eq('id', true)
    .select('updated_at, applied_at, apply_error')
    .single()
  if (error) throw error
  return data
}

export async function updateEmailTemplate(
  supabase: Client,
  name: EmailType,
  change: Pick<TablesUpdate<'email_templates'>, 'enabled' | 'subject' | 'html_body' | 'text_body'>,
) {
  const { data, error } = await supabase
    .from('email_templates')
    .update(change)
    .eq('name', name)
    .select('name, updated_at, applied_at, apply_error')
    .single()
  if (error) throw error
  return data
}

// Email history: every email (admins), filterable by type and status.
// Re-sending a failed or bounced email: back in the outbox, audited as the admin's.
export async function resendEmail(supabase: Client, emailId: string) {
  const { data, error } = await supabase.rpc('admin_resend_email', { id: emailId })
  if (error) throw error
  const status: EmailStatus = data.status
  return status
}

export async function emailHistory(
  supabase: Client,
  filter: { type?: EmailType; status?: EmailStatus; talentId?: string },
  page: { index: number; size: number },
) {
  let query = supabase
    .from('email_notifications')
    .select('id, email_type, recipient_email, subject, status, attempts, last_error, sent_at, delivered_at, created_at', {
      count: 'exact',
    })
  if (filter.type) query = query.eq('email_type', filter.type)
  if (filter.status) query = query.eq('status', filter.status)
  if (filter.talentId) query = query.eq('talent_profile_id', filter.talentId)
  const from = page.index * page.size
  const { data, count, error } = await query.order('created_at', { ascending: false }).range(from, from + page.size - 1)
  if (error) throw error
  return { rows: data, total: count ?? 0 }
}

// Live dashboard: talent_profiles is in the supabase_realtime publication; RLS decides
// which rows' changes an admin receives. A change of status moves a row between tabs.
export function watchTalents(
  supabase: Client,
  onChange: (change: { id: string; from: TalentStatus | null; to: TalentStatus | null; kind: 'INSERT' | 'UPDATE' | 'DELETE' }) => void,
): RealtimeChannel {
  return supabase
    .channel('admin-talent-profiles')
    .on<TalentProfile>('postgres_changes', { event: '*', schema: 'public', table: 'talent_profiles' }, (payload) => {
      switch (payload.eventType) {
        case 'INSERT':
          onChange({ id: payload.new.id, from: null, to: payload.new.status, kind: 'INSERT' })
          break
        case 'UPDATE':
          onChange({ id: payload.new.id, from: payload.old.status ?? null, to: payload.new.status, kind: 'UPDATE' })
          break
        case 'DELETE':
          onChange({ id: payload.old.id ?? '', from: payload.old.status ?? null, to: null, kind: 'DELETE' })
          break
      }
    })
    .subscribe()
}

// New submissions only, for a notification badge.
export function watchSubmissions(supabase: Client, onSubmitted: (profile: TalentProfile) => void): RealtimeChannel {
  return supabase
    .channel('admin-submissions')
    .on<TalentProfile>(
      'postgres_changes',
      { event: 'UPDATE', schema: 'public', table: 'talent_profiles', filter: 'status=eq.submitted' },
      (payload) => onSubmitted(payload.new),
    )
    .subscribe()
}
