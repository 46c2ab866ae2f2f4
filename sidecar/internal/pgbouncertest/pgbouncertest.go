// Package pgbouncertest runs a real pgbouncer (Debian's package, which scripts/db.sh
// installs) in front of a test database, in the pool mode a test asks for: the
// transaction pooler an IPv4-only host is offered, or a session pooler.
package pgbouncertest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Start runs pgbouncer on a free loopback port in front of the database dbURL names
// (whose user and password pgbouncer uses too), with pool_mode = mode and any extra
// "key = value" settings, and returns the URL of that database through it. It is
// stopped when t ends. As root it runs as nobody: pgbouncer refuses root.
func Start(t testing.TB, dbURL, mode string, extra ...string) string {
	t.Helper()
	bin := binary()
	if bin == "" {
		t.Fatal("pgbouncertest: pgbouncer is not installed (scripts/db.sh install installs it)")
	}
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		t.Fatalf("pgbouncertest: %q is not a URL with a user", dbURL)
	}
	password, _ := u.User.Password()
	db := strings.TrimPrefix(u.Path, "/")

	// Readable by nobody: t.TempDir() is not.
	dir, err := os.MkdirTemp("", "pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	userlist := filepath.Join(dir, "userlist.txt")
	write(t, userlist, fmt.Sprintf("%q %q\n", u.User.Username(), password))
	ini := filepath.Join(dir, "pgbouncer.ini")
	write(t, ini, strings.Join(append([]string{
		"[databases]",
		fmt.Sprintf("%s = host=%s port=%s dbname=%s", db, u.Hostname(), u.Port(), db),
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + strconv.Itoa(port),
		"unix_socket_dir =",
		"auth_type = scram-sha-256",
		"auth_file = " + userlist,
		"pool_mode = " + mode,
		"default_pool_size = 50",
		"max_client_conn = 200",
	}, extra...), "\n")+"\n")

	logf, err := os.Create(filepath.Join(dir, "pgbouncer.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, ini)
	cmd.Stdout, cmd.Stderr = logf, logf
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("pgbouncertest: pgbouncer refuses root and there is no user nobody: %v", err)
		}
		uid, _ := strconv.Atoi(nobody.Uid)
		gid, _ := strconv.Atoi(nobody.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("pgbouncertest: starting pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("pgbouncer (pool_mode=%s) output:\n%s", mode, b)
		}
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("pgbouncertest: pgbouncer exited:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncertest: pgbouncer does not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	through := *u
	through.Host = addr
	return through.String()
}

// binary is pgbouncer's path ("" when it is not installed): Debian puts it in
// /usr/sbin, which an unprivileged PATH may lack.
func binary() string {
	if bin, err := exec.LookPath("pgbouncer"); err == nil {
		return bin
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err == nil {
		return "/usr/sbin/pgbouncer"
	}
	return ""
}

// Version is what `pgbouncer --version` prints first.
func Version() string {
	out, err := exec.Command(binary(), "--version").Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
