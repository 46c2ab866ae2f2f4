// Package schematest checks the database schema as a whole from Go: that the
// policies in a migrated database equal policies/*.sql, that the migrations
// directory keeps the names the Supabase CLI expects, and what row level security
// costs (benchmarks for the README's "Cost of RLS" figure). It has no non-test code.
package schematest
