// Package sidecartest builds bin/sidecar and runs it as a real process for tests
// and benchmarks that must kill it (SIGKILL) or run two of it.
package sidecartest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/talent-onboarding/backend/sidecar/internal/testdb"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./sidecar/cmd/sidecar once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	root := testdb.Root(t)
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sidecar-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sidecar")
		cmd := exec.Command("go", "build", "-o", binPath, "./sidecar/cmd/sidecar")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building sidecar: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Proc is one running sidecar.
type Proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	Addr string // host:port of its HTTP server
	Log  string // file holding its output
	done chan struct{}
}

// freeAddr returns a loopback address with a free port.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start runs bin with env (plus SIDECAR_ADDR on a free port unless given). Its
// output goes to a file that is printed when the test fails. The process is killed
// at cleanup if still running.
func Start(t testing.TB, bin string, env map[string]string) *Proc {
	t.Helper()
	return start(t, []string{bin}, env)
}

// StartIn runs bin inside the network namespace ns (`ip netns exec`, which execs
// the binary itself, so the process is the sidecar); env must give SIDECAR_ADDR on
// an address of the namespace.
func StartIn(t testing.TB, ns, bin string, env map[string]string) *Proc {
	t.Helper()
	if env["SIDECAR_ADDR"] == "" {
		t.Fatal("sidecartest.StartIn: SIDECAR_ADDR must be an address in the namespace")
	}
	return start(t, []string{"ip", "netns", "exec", ns, bin}, env)
}

func start(t testing.TB, argv []string, env map[string]string) *Proc {
	t.Helper()
	addr := env["SIDECAR_ADDR"]
	if addr == "" {
		addr = freeAddr(t)
	}
	logf, err := os.CreateTemp(t.TempDir(), "sidecar-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "SIDECAR_ADDR=" + addr}
	for k, v := range env {
		if k != "SIDECAR_ADDR" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{t: t, cmd: cmd, Addr: addr, Log: logf.Name(), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.Kill()
		if keep := os.Getenv("SIDECAR_TEST_LOGS"); keep != "" {
			b, _ := os.ReadFile(p.Log)
			_ = os.WriteFile(filepath.Join(keep, fmt.Sprintf("sidecar-%d.log", cmd.Process.Pid)), b, 0o644)
		}
		if t.Failed() {
			b, _ := os.ReadFile(p.Log)
			s := string(b)
			if len(s) > 8000 {
				s = "…" + s[len(s)-8000:]
			}
			t.Logf("sidecar pid %d output:\n%s", cmd.Process.Pid, s)
		}
	})
	return p
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to 15s, then kills.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.Kill()
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode is the exit code after the process ended (-1 when killed by a signal).
func (p *Proc) ExitCode() int { <-p.done; return p.cmd.ProcessState.ExitCode() }

// Ready fetches /readyz and returns its replication state ("" when unreachable).
func (p *Proc) Ready() (ready bool, replication string) { return ReadyAt("http://" + p.Addr) }

// ReadyAt fetches base + "/readyz" of any sidecar (a process, a container, a pod):
// whether it answered ready, and its replication state ("" when unreachable).
func ReadyAt(base string) (ready bool, replication string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return false, ""
	}
	defer resp.Body.Close()
	var body struct {
		Ready       bool   `json:"ready"`
		Replication string `json:"replication"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Ready && resp.StatusCode == http.StatusOK, body.Replication
}

// WaitReadyAt waits until base's /readyz answers ready with the replication state
// want.
func WaitReadyAt(base, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ready, st := ReadyAt(base)
		if ready && st == want {
			return nil
		}
		last = st
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s/readyz: not ready with %q within %s (last %q)", base, want, timeout, last)
}

// WaitState waits until /readyz reports the replication state want.
func (p *Proc) WaitState(want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("sidecar exited (see %s)", p.Log)
		}
		if _, st := p.Ready(); st == want {
			return nil
		} else {
			last = st
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("sidecar did not reach %q within %s (last %q)", want, timeout, last)
}

// RSS reads VmRSS of the process in bytes.
func (p *Proc) RSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// CPU is the CPU time (user and system) the process has used so far; 0 once it is
// gone.
func (p *Proc) CPU() time.Duration {
	_, cpu, _ := procCPU(fmt.Sprintf("/proc/%d/stat", p.Pid()))
	return cpu
}

// procCPU reads a /proc/<pid>/stat file: the command name, and the CPU time the
// process has used (utime + stime) and its reaped children have (cutime + cstime).
func procCPU(path string) (name string, own, children time.Duration) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, 0 // gone
	}
	// The command name (field 2) is in parentheses and may hold spaces; utime,
	// stime, cutime and cstime are fields 14 to 17, the 12th to 15th after it.
	head, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 15 {
		return "", 0, 0
	}
	_, name, _ = strings.Cut(head, "(")
	return name, ticks(f[11], f[12]), ticks(f[13], f[14])
}

// BusyCPU is the CPU time the whole machine has spent busy (user, nice, system, irq
// and softirq in /proc/stat) since boot. Over a benchmark it adds up the sidecar's
// and Postgres's work whatever process did it.
func BusyCPU(t testing.TB) time.Duration {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 8 {
		t.Fatalf("/proc/stat: %q", line)
	}
	return ticks(f[1], f[2], f[3], f[6], f[7])
}

// PostgresCPU is the CPU time every Postgres process on the machine has used: the
// running ones (the postmaster, its helpers, backends, walsenders) and, through the
// postmaster's count of its reaped children, the backends that have exited. Over a
// benchmark it is the database's share of BusyCPU.
func PostgresCPU(t testing.TB) time.Duration {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, path := range stats {
		if name, own, children := procCPU(path); name == "postgres" {
			total += own + children
		}
	}
	return total
}

// ticks adds up /proc clock ticks (USER_HZ, 100 on Linux) as a duration.
func ticks(fields ...string) time.Duration {
	var n int64
	for _, f := range fields {
		v, _ := strconv.ParseInt(f, 10, 64)
		n += v
	}
	return time.Duration(n) * time.Second / 100
}

// Env returns the environment a test sidecar needs for database url. Slot names
// are cluster-wide, so each test database gets its own slot (named after it).
// Emails of the file provider go to a directory removed when t ends.
func Env(t testing.TB, dbURL string, extra map[string]string) map[string]string {
	slot := "talent_sidecar"
	if u, err := url.Parse(dbURL); err == nil && len(u.Path) > 1 {
		slot = strings.ToLower(strings.TrimPrefix(u.Path, "/"))
	}
	env := map[string]string{
		"DATABASE_URL":     dbURL,
		"REPLICATION_SLOT": slot,
		"WEBHOOK_SECRET":   "test-secret-0123456789",
		"STANDBY_INTERVAL": "1s",
		"EMAIL_FILE_DIR":   t.TempDir(),
		"LOG_LEVEL":        "info",
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// Metric reads one unlabelled sample from the process's /metrics (0 when absent).
func (p *Proc) Metric(name string) (float64, error) {
	resp, err := http.Get("http://" + p.Addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, nil
}

// WaitFor polls cond every 50ms until it is true or timeout passes.
func WaitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
