// Package schematest checks the database schema as a whole from Go: that the
// policies in a migrated database equal policies/*.sql, that the migrations
// directory keeps the names the Supabase CLI expects, and what row level security
// costs (benchmarks for the RLS rows of the figures in docs/performance.md). It has no non-test code.
package schematest
