package startstop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServiceStopsWaitsAndMayBeStoppedTwice(t *testing.T) {
	var s Service
	s.Stop() // before Start: nothing to stop
	require.Nil(t, s.Done())

	var finished atomic.Int32
	run := func(ctx context.Context) {
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // work that finishes after the cancel
		finished.Add(1)
	}
	require.NoError(t, s.Start(context.Background(), "part", run, run))
	err := s.Start(context.Background(), "part", run)
	require.ErrorContains(t, err, "starting part: already started")

	select {
	case <-s.Done():
		t.Fatal("done before Stop")
	case <-time.After(10 * time.Millisecond):
	}
	s.Stop()
	require.Equal(t, int32(2), finished.Load(), "Stop returns only after every goroutine has")
	<-s.Done()
	s.Stop() // twice: returns at once
}

func TestServiceEndsWithItsParentContext(t *testing.T) {
	var s Service
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, s.Start(ctx, "part", func(ctx context.Context) { <-ctx.Done() }))
	cancel()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the goroutines outlived the context Start was given")
	}
}
