// The talent's side (PON-47: OnboardingProgress, OnboardingDraft, TalentProfile): an
// anonymous session gives the draft a real user id before there is an account; the
// wizard autosaves its progress and the profile draft; media go to Storage under the
// user's folder and rows hold URLs only; then the talent submits.
import type { Client, TalentProfile } from './client'
import type { Json, Tables, TablesUpdate } from '../types/database'

// Anonymous sign-in (or the session already in the browser).
export async function startSession(supabase: Client): Promise<string> {
  const { data: current } = await supabase.auth.getSession()
  if (current.session) return current.session.user.id
  const { data, error } = await supabase.auth.signInAnonymously()
  if (error) throw error
  if (!data.user) throw new Error('anonymous sign-in returned no user')
  return data.user.id
}

// The wizard's progress and form data, one row per user (onboarding_progress.user_id
// is unique), saved on every step change and on a debounce while typing. The wizard
// counts steps from 0; last_activity is the database's (set on every write).
export async function saveProgress(
  supabase: Client,
  userId: string,
  progress: { currentStep: number; completedSteps: number[]; sessionId: string; isComplete: boolean },
  formData: { [field: string]: Json | undefined },
): Promise<void> {
  const { error } = await supabase.from('onboarding_progress').upsert(
    {
      user_id: userId,
      current_step: progress.currentStep,
      completed_steps: progress.completedSteps,
      session_id: progress.sessionId,
      is_complete: progress.isComplete,
      form_data: formData,
    },
    { onConflict: 'user_id' },
  )
  if (error) throw error
}

// Restoring the draft when the talent comes back (same browser session).
export async function loadProgress(supabase: Client, userId: string) {
  const { data, error } = await supabase
    .from('onboarding_progress')
    .select('current_step, completed_steps, form_data, session_id, is_complete, last_activity')
    .eq('user_id', userId)
    .maybeSingle()
  if (error) throw error
  if (!data) return null
  const step: number = data.current_step
  const completed: number[] = data.completed_steps
  return { step, completed, formData: data.form_data, complete: data.is_complete, savedAt: data.last_activity }
}

// Resuming by the wizard's session id (indexed), and following the draft live: the
// table is in supabase_realtime, and RLS filters what a subscriber receives.
export async function resumeSession(supabase: Client, sessionId: string) {
  const { data, error } = await supabase.from('onboarding_progress').select('*').eq('session_id', sessionId).maybeSingle()
  if (error) throw error
  return data
}

export function watchProgress(supabase: Client, userId: string, onChange: (step: number) => void) {
  return supabase
    .channel(`progress:${userId}`)
    .on('postgres_changes', { event: '*', schema: 'public', table: 'onboarding_progress', filter: `user_id=eq.${userId}` },
      (payload) => {
        const row = payload.new as Partial<Tables<'onboarding_progress'>>
        if (typeof row.current_step === 'number') onChange(row.current_step)
      })
    .subscribe()
}

export async function discardProgress(supabase: Client, userId: string): Promise<void> {
  const { error } = await supabase.from('onboarding_progress').delete().eq('user_id', userId)
  if (error) throw error
}

// The profile draft: created on the first autosave (status 'draft' by default), then
// updated while it is a draft. Only the talent's own content columns.
export type ProfileDraft = Pick<
  TablesUpdate<'talent_profiles'>,
  | 'name'
  | 'email'
  | 'phone'
  | 'location'
  | 'headshot_urls'
  | 'video_sample_url'
  | 'freeform_audio_url'
  | 'tone_categories'
  | 'personality_traits'
  | 'custom_tone'
  | 'predefined_answers'
  | 'freeform_text'
  | 'session_id'
>

export async function saveProfileDraft(supabase: Client, userId: string, draft: ProfileDraft): Promise<TalentProfile['id']> {
  const { data: existing, error: readError } = await supabase
    .from('talent_profiles')
    .select('id, status')
    .eq('user_id', userId)
    .maybeSingle()
  if (readError) throw readError
  if (!existing) {
    const { data, error } = await supabase
      .from('talent_profiles')
      .insert({ ...draft, user_id: userId })
      .select('id')
      .single()
    if (error) throw error
    return data.id
  }
  if (existing.status !== 'draft') throw new Error(`the profile is ${existing.status} and can no longer be edited`)
  const { error } = await supabase.from('talent_profiles').update(draft).eq('id', existing.id)
  if (error) throw error
  return existing.id
}

// Personality traits as the spec's form has them (0-100 each), stored as jsonb.
export async function savePersonality(
  supabase: Client,
  profileId: string,
  traits: { extroversion: number; formality: number; energy: number; professionalism: number },
  toneCategories: string[],
): Promise<void> {
  const { error } = await supabase
    .from('talent_profiles')
    .update({ personality_traits: traits, tone_categories: toneCategories })
    .eq('id', profileId)
  if (error) throw error
}

// Headshots: uploaded to the private 'headshots' bucket under '<user id>/<file>' (the
// storage policies allow only the user's own folder); the row keeps the object URL,
// and the browser shows it through a short-lived signed URL.
export async function uploadHeadshot(
  supabase: Client,
  supabaseUrl: string,
  userId: string,
  file: File,
): Promise<{ url: string; path: string }> {
  const extension = file.type === 'image/png' ? 'png' : file.type === 'image/webp' ? 'webp' : 'jpg'
  const path = `${userId}/${crypto.randomUUID()}.${extension}`
  const { data, error } = await supabase.storage
    .from('headshots')
    .upload(path, file, { contentType: file.type, upsert: false })
  if (error) throw error
  return { path: data.path, url: `${supabaseUrl}/storage/v1/object/headshots/${data.path}` }
}

export async function addHeadshot(supabase: Client, profileId: string, current: string[], url: string): Promise<void> {
  const { error } = await supabase
    .from('talent_profiles')
    .update({ headshot_urls: [...current, url] })
    .eq('id', profileId)
  if (error) throw error
}

export async function headshotSignedUrl(supabase: Client, path: string): Promise<string> {
  const { data, error } = await supabase.storage.from('headshots').createSignedUrl(path, 60 * 60)
  if (error) throw error
  return data.signedUrl
}

// Submit: draft -> submitted. The trigger stamps submitted_at and refuses an
// incomplete profile (23514); afterwards the talent can read but not edit it.
export async function submit(supabase: Client, profileId: string): Promise<TalentProfile> {
  const { data, error } = await supabase
    .from('talent_profiles')
    .update({ status: 'submitted' })
    .eq('id', profileId)
    .eq('status', 'draft')
    .select()
    .single()
  if (error) throw error
  return data
}

// The talent's own emails (welcome, approval, ...), newest first.
export async function myEmails(supabase: Client, profileId: string) {
  const { data, error } = await supabase
    .from('email_notifications')
    .select('email_type, subject, status, sent_at, created_at')
    .eq('talent_profile_id', profileId)
    .order('created_at', { ascending: false })
  if (error) throw error
  return data
}
