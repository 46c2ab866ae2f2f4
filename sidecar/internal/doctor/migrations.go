package doctor

// EmbeddedMigrations (migrations_gen.go) lists the versions in migrations/ when
// this binary was built, so doctor can check a database without a checkout.
// A Go file inside migrations/ could embed them directly, but the Supabase CLI
// prints a "Skipping migration" warning for every non-.sql file there on each
// push; a generated list with a test that it is current avoids that.
//
//go:generate go test -run TestEmbeddedMigrationsCurrent -update .
