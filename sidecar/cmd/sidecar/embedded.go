package main

// The image is `FROM scratch` (deploy/Containerfile): no /usr/share/zoneinfo and no
// /etc/ssl/certs. The binary carries both so it needs nothing from the filesystem.
import (
	// Time zones, for time.LoadLocation (~450 KB).
	_ "time/tzdata"

	// Mozilla's root CA set, used only when the system has none (as in the image):
	// TLS to SendGrid, the Storage API and a database with sslmode=verify-full.
	// Where the host has a CA bundle (a developer's machine), that one wins.
	_ "golang.org/x/crypto/x509roots/fallback"
)
