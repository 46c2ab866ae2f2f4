package imagetest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

// podman runs podman on the tests' own store (.local/containers/test), with the
// project's containers.conf (vfs, cgroupfs, runc, ulimits) that scripts/image.sh
// writes. The image is loaded into this store from the archive, so what runs is
// what the archive holds.
type podman struct {
	t     testing.TB
	flags []string
	env   []string
}

func newPodman(t testing.TB) *podman {
	t.Helper()
	imageArchive(t) // without SIDECAR_IMAGE_ARCHIVE, builds the image, which installs podman
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatalf("podman is not installed (scripts/image.sh install, or make test, installs it): %v", err)
	}
	local := filepath.Join(testdb.Root(t), ".local", "containers")
	conf := filepath.Join(local, "containers.conf")
	if _, err := os.Stat(conf); err != nil {
		t.Fatalf("%s is missing: scripts/image.sh (make image) writes it: %v", conf, err)
	}
	store := filepath.Join(local, "test")
	return &podman{
		t:     t,
		flags: []string{"--root", filepath.Join(store, "storage"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"},
		env:   append(os.Environ(), "CONTAINERS_CONF="+conf, "CONTAINERS_STORAGE_CONF="+filepath.Join(local, "storage.conf")),
	}
}

// run returns podman's stdout, trimmed; an error carries its stderr.
func (p *podman) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", append(append([]string{}, p.flags...), args...)...)
	cmd.Env = p.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return strings.TrimSpace(stdout.String()), fmt.Errorf("podman %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	require.NoError(p.t, err)
	return out
}

// buildArchive runs scripts/image.sh of the checkout at root once per test
// process; its last line of output is the archive's path.
func buildArchive(root string) (string, error) {
	buildOnce.Do(func() { builtPath, buildErr = runImageScript(root) })
	return builtPath, buildErr
}

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

func runImageScript(root string) (string, error) {
	cmd := exec.Command(filepath.Join(root, "scripts", "image.sh"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/image.sh: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

// imageArchive is the archive scripts/test.sh built (SIDECAR_IMAGE_ARCHIVE), or
// one built now.
func imageArchive(t testing.TB) string {
	t.Helper()
	path := os.Getenv("SIDECAR_IMAGE_ARCHIVE")
	if path == "" {
		var err error
		path, err = buildArchive(testdb.Root(t))
		require.NoError(t, err)
	}
	_, err := os.Stat(path)
	require.NoError(t, err, "the image archive")
	return path
}

// archiveImage reads a docker-archive's manifest: the image id (the config's
// digest) and the names it is tagged with.
func archiveImage(t testing.TB, path string) (id string, tags []string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		require.NoError(t, err, "manifest.json not found in %s", path)
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct {
			Config   string
			RepoTags []string
		}
		require.NoError(t, json.NewDecoder(tr).Decode(&m))
		require.Len(t, m, 1, "one image in the archive")
		return strings.TrimSuffix(m[0].Config, ".json"), m[0].RepoTags
	}
}

// loadImage loads the archive into the test store and returns the image's name,
// after checking that the name now points at the archive's image.
func loadImage(t testing.TB, p *podman) string {
	t.Helper()
	path := imageArchive(t)
	id, tags := archiveImage(t, path)
	require.Len(t, tags, 1)
	p.must("load", "-q", "-i", path)
	got := p.must("image", "inspect", "--format", "{{.Id}}", tags[0])
	require.Equal(t, id, got, "%s is the archive's image", tags[0])
	st, err := os.Stat(path)
	require.NoError(t, err)
	size := p.must("image", "inspect", "--format", "{{.Size}}", tags[0])
	t.Logf("image %s (%s): archive %s, %s bytes unpacked", tags[0], id[:12], mib(st.Size()), size)
	return tags[0]
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// procStatus reads one line (Uid:, Gid:) of /proc/<pid>/status.
func procStatus(t testing.TB, pid, field string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatalf("no %s in /proc/%s/status", field, pid)
	return nil
}

// mounts maps each mount point the process sees to its per-mount options
// (/proc/<pid>/mountinfo: field 5 is the mount point, field 6 the options).
func mounts(t testing.TB, pid string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/mountinfo")
	require.NoError(t, err)
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 {
			out[f[4]] = f[5]
		}
	}
	return out
}

// requireHardened checks a running container's process: every uid and gid is
// 65532, and its root filesystem is mounted read-only.
func requireHardened(t testing.TB, p *podman, ctr string) {
	t.Helper()
	pid := p.must("inspect", "--format", "{{.State.Pid}}", ctr)
	require.Equal(t, []string{"65532", "65532", "65532", "65532"}, procStatus(t, pid, "Uid"), "%s runs as 65532", ctr)
	require.Equal(t, []string{"65532", "65532", "65532", "65532"}, procStatus(t, pid, "Gid"), "%s runs as group 65532", ctr)
	opts := strings.Split(mounts(t, pid)["/"], ",")
	require.Contains(t, opts, "ro", "%s: the root filesystem is read-only", ctr)
}

// spread is the median and range of three or more durations, for the log.
func spread(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("median %s (%s to %s, n=%d)", r(s[len(s)/2]), r(s[0]), r(s[len(s)-1]), len(s))
}

const (
	adminID     = "00000000-0000-4000-8000-00000000a001"
	sendGridKey = "SG.imagetest-key-for-the-fake"
)

// submittedTalents adds the admin and n talents in status submitted, and returns
// the talents' profile ids and emails.
func submittedTalents(t testing.TB, db *testdb.DB, n int) (ids, emails []string) {
	t.Helper()
	ctx := context.Background()
	_, err := db.Pool.Exec(ctx, `
		with u as (insert into auth.users (id, email) values ($1, 'admin@example.com') returning id)
		insert into public.admin_users (id, role) select id, 'admin' from u`, adminID)
	require.NoError(t, err)
	rows, err := db.Pool.Query(ctx, `
		with u as (
		  insert into auth.users (id, email)
		  select gen_random_uuid(), 'image-talent' || i || '@example.com' from generate_series(1, $1) i
		  returning id, email)
		insert into public.talent_profiles (user_id, name, email)
		select id, 'Talent ' || email, email from u
		returning id::text, email`, n)
	require.NoError(t, err)
	for rows.Next() {
		var id, email string
		require.NoError(t, rows.Scan(&id, &email))
		ids, emails = append(ids, id), append(emails, email)
	}
	require.NoError(t, rows.Err())
	_, err = db.Pool.Exec(ctx, `update public.talent_profiles set status = 'submitted' where id = any($1)`, ids)
	require.NoError(t, err)
	return ids, emails
}

// approve is the admin approving a talent, as PostgREST runs it.
func approve(t testing.TB, db *testdb.DB, id string) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, testdb.AsRole(ctx, db.Pool, "authenticated", adminID, "admin@example.com", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `update public.talent_profiles set status = 'approved' where id = $1`, id)
		if err == nil && tag.RowsAffected() != 1 {
			err = fmt.Errorf("approving %s changed %d rows", id, tag.RowsAffected())
		}
		return err
	}))
}

// approvals counts the audit rows of approvals of one talent.
func approvals(t testing.TB, db *testdb.DB, id string) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `select count(*) from public.admin_actions
		where talent_profile_id = $1 and action_type = 'approve' and admin_user_id = $2`, id, adminID).Scan(&n))
	return n
}

// slotActive reports whether the replication slot has a consumer.
func slotActive(t testing.TB, db *testdb.DB, slot string) bool {
	t.Helper()
	var active bool
	require.NoError(t, db.Pool.QueryRow(context.Background(),
		`select active from pg_replication_slots where slot_name = $1`, slot).Scan(&active))
	return active
}

// forward listens on every interface and copies connections from clients inside
// allowed to target (a loopback address), for pods on a bridge network to reach
// the database and the SendGrid fake. It returns the port; it closes at cleanup.
func forward(t testing.TB, allowed *net.IPNet, target string) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	closed := false
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		closed = true
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if ip := c.RemoteAddr().(*net.TCPAddr).IP; !allowed.Contains(ip) {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				u.Close()
				return
			}
			conns = append(conns, c, u)
			mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}
