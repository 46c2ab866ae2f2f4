// Package httpapi is the sidecar's HTTP surface: health, readiness, metrics, and the
// routes other packages mount (webhooks). Errors are rendered in one place as
// {"error":{"code","message"}}, keeping the public code and message apart from the
// internal cause, which is only logged.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/talent-onboarding/backend/sidecar/internal/startstop"
)

// Error is an HTTP error with a public code and message and a private cause.
type Error struct {
	Status  int
	Code    string
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// NewError builds an Error.
func NewError(status int, code, format string, a ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, a...)}
}

// Pinger is the database check of /readyz.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure the server.
type Options struct {
	Addr     string
	DB       Pinger
	Registry *prometheus.Registry
	// Health, when set, is /healthz's verdict: an error means the process cannot
	// make progress and should be restarted (the liveness probe fails).
	Health func() error
	// Replication reports the replication input's state: "streaming", "standby"
	// (another instance holds the slot), "disabled", or anything else (not ready).
	Replication func() string
	// Routes are mounted after the built-in ones (webhooks, the email helper's routes).
	Routes []func(app *fiber.App)
	// BodyLimit caps request bodies at the transport; routes check tighter limits
	// themselves so they can answer in JSON.
	BodyLimit int
	// ShutdownTimeout is how long Stop waits for requests in flight (default 10s).
	ShutdownTimeout time.Duration
	Log             *slog.Logger
}

// Server serves the app between Start and Stop.
type Server struct {
	app  *fiber.App
	opts Options
	log  *slog.Logger
	svc  startstop.Service
}

// New builds the app and mounts every route.
func New(opts Options) *Server {
	log := opts.Log.With("component", "httpapi")
	if opts.BodyLimit == 0 {
		opts.BodyLimit = 8 << 20
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	s := &Server{opts: opts, log: log}
	s.app = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		ErrorHandler:          s.handleError,
	})
	responses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sidecar_webhook_responses_total", Help: "Webhook responses by route and HTTP status.",
	}, []string{"route", "status"})
	if opts.Registry != nil {
		opts.Registry.MustRegister(responses)
	}
	s.app.Use(func(c *fiber.Ctx) error {
		err := c.Next()
		if strings.HasPrefix(c.Path(), "/webhooks/") {
			status := c.Response().StatusCode()
			var fe *fiber.Error
			var he *Error
			switch {
			case errors.As(err, &he):
				status = he.Status
			case errors.As(err, &fe):
				status = fe.Code
			case err != nil:
				status = fiber.StatusInternalServerError
			}
			responses.WithLabelValues(c.Route().Path, strconv.Itoa(status)).Inc()
		}
		return err
	})
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
	if opts.Registry != nil {
		s.app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{})))
	}
	for _, r := range opts.Routes {
		r(s.app)
	}
	return s
}

// App exposes the fiber app (tests drive it with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// healthz answers 200 unless Health says the process is stuck; the body says why,
// for the operator reading the probe's failure in the pod's events.
func (s *Server) healthz(c *fiber.Ctx) error {
	if s.opts.Health != nil {
		if err := s.opts.Health(); err != nil {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "stalled", "reason": err.Error()})
		}
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	state := "disabled"
	if s.opts.Replication != nil {
		state = s.opts.Replication()
	}
	dbOK := s.opts.DB == nil || s.opts.DB.Ping(ctx) == nil
	ready := dbOK && (state == "streaming" || state == "standby" || state == "disabled")
	status := fiber.StatusOK
	if !ready {
		status = fiber.StatusServiceUnavailable
	}
	return c.Status(status).JSON(fiber.Map{"ready": ready, "database": dbOK, "replication": state})
}

func (s *Server) handleError(c *fiber.Ctx, err error) error {
	var he *Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
	case errors.As(err, &fe):
		he = &Error{Status: fe.Code, Code: codeFor(fe.Code), Message: fe.Message}
	default:
		he = &Error{Status: fiber.StatusInternalServerError, Code: "internal", Message: "internal error", Cause: err}
	}
	if he.Status >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", he.Status, "err", err)
	} else {
		s.log.Info("request refused", "method", c.Method(), "path", c.Path(), "status", he.Status, "code", he.Code, "message", he.Message)
	}
	return c.Status(he.Status).JSON(fiber.Map{"error": fiber.Map{"code": he.Code, "message": he.Message}})
}

func codeFor(status int) string {
	switch status {
	case fiber.StatusNotFound:
		return "not_found"
	case fiber.StatusMethodNotAllowed:
		return "method_not_allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case fiber.StatusBadRequest:
		return "bad_request"
	}
	return "http_" + strconv.Itoa(status)
}

// Start listens on Addr (an address in use fails here) and serves in the
// background until Stop or the end of ctx.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	if err := s.svc.Start(ctx, "HTTP server", func(ctx context.Context) { s.serve(ctx, ln) }); err != nil {
		_ = ln.Close()
		return err
	}
	s.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// serve serves ln until ctx ends, then shuts down, waiting up to ShutdownTimeout
// for requests in flight.
func (s *Server) serve(ctx context.Context, ln net.Listener) {
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := s.app.Listener(ln); err != nil {
			s.log.Error("serving HTTP", "err", err)
		}
	}()
	select {
	case <-served:
		return
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	_ = s.app.ShutdownWithContext(sctx)
	select {
	case <-served:
	case <-sctx.Done():
	}
}

// Stop shuts the server down and returns once requests in flight are answered or
// ShutdownTimeout has passed. It may be called more than once, and before Start.
func (s *Server) Stop() { s.svc.Stop() }
