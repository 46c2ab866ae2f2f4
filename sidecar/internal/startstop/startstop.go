// Package startstop is the one lifecycle of the sidecar's long-running parts: the
// pipeline, the email outbox, the storage cleaner, the catch-up, the replication
// leader and the HTTP server each start with Start(ctx) error, which returns at
// once, and stop with Stop(), which may be called more than once (and before
// Start) and returns only when the part's goroutines have.
package startstop

import (
	"context"
	"fmt"
	"sync"
)

// Service runs a part's goroutines between Start and Stop. A part holds one and
// delegates its own Start and Stop to it. The zero value is ready to use.
type Service struct {
	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// Start runs each of run in its own goroutine with a context derived from ctx that
// Stop cancels, and returns at once. A Service starts once: a second Start fails,
// naming the part.
func (s *Service) Start(ctx context.Context, name string, run ...func(ctx context.Context)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("starting %s: already started", name)
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(len(run))
	for _, r := range run {
		go func() {
			defer wg.Done()
			r(ctx)
		}()
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
	return nil
}

// Stop cancels the context the goroutines run with and waits for them to return.
// It may be called more than once, from any goroutine, and before Start.
func (s *Service) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// Done is closed once the goroutines Start ran have all returned (nil before Start).
func (s *Service) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}
