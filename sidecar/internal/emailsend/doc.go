// Package emailsend is the part of the status-change emails that runs after the
// pipeline's transaction commits: the Outbox claims queued email_notifications rows,
// renders those that carry only template variables (with package email's live
// configuration), and sends them through a Provider (SendGrid, SMTP or files); the
// EventWebhook records SendGrid's delivery events on the same rows. Deciding and
// queueing the emails, inside the transaction, is package email. Its settings come
// in Options and ProviderOptions, filled by cmd/sidecar from the configuration.
package emailsend
