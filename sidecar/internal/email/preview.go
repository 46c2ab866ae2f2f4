package email

import (
	"context"

	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
)

// Preview renders a template as stored in the database (read-only: nothing is
// queued or stamped). With profileID it uses that talent's data, as the email for
// their next transition would; otherwise the sample variables.
func Preview(ctx context.Context, pool *pgxpool.Pool, name, profileID string) (Rendered, error) {
	if !slices.Contains(TemplateNames, name) {
		return Rendered{}, fmt.Errorf("unknown template %q (one of %v)", name, TemplateNames)
	}
	var s emailSettings
	err := pool.QueryRow(ctx, `select `+settingsColumns+` from public.email_settings`).Scan(s.scanTargets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Rendered{}, errors.New("no email_settings row: apply the migrations first")
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("reading email settings: %w", err)
	}
	var enabled bool
	var subject, html, text string
	err = pool.QueryRow(ctx, `select enabled, subject, html_body, text_body from public.email_templates where name = $1`, name).
		Scan(&enabled, &subject, &html, &text)
	if errors.Is(err, pgx.ErrNoRows) {
		return Rendered{}, fmt.Errorf("template %s is not in email_templates", name)
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("reading template %s: %w", name, err)
	}
	t, err := compile(name, enabled, subject, html, text)
	if err != nil {
		return Rendered{}, err
	}
	v := sampleVars(s.PortalURL, s.FromName)
	if profileID != "" {
		var raw []byte
		err := pool.QueryRow(ctx, `select to_jsonb(p) from public.talent_profiles p where id::text = $1`, profileID).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return Rendered{}, fmt.Errorf("no talent profile with id %q", profileID)
		}
		if err != nil {
			return Rendered{}, fmt.Errorf("reading profile %s: %w", profileID, err)
		}
		row, err := rowjson.Decode(raw)
		if err != nil {
			return Rendered{}, fmt.Errorf("decoding profile %s: %w", profileID, err)
		}
		v = varsFor(row, row.Str("status"), row.Str("status"))
		v.withSettings(s.PortalURL, s.FromName)
		if v.SubmittedAt == "" {
			v.SubmittedAt = "(not submitted yet)"
		}
	}
	return t.Render(v)
}
