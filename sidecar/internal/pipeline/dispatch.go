package pipeline

import (
	"context"
	"hash/fnv"
)

// dispatch hands each submitted item to its worker: an event to the worker of its
// partition, a mark to every worker, a barrier event to the first worker once every
// worker has committed what it was given before.
func (p *Pipeline) dispatch(ctx context.Context) {
	n := uint32(len(p.workers))
	for {
		var it item
		select {
		case <-ctx.Done():
			return
		case it = <-p.queue:
		}
		ok := true
		switch {
		case it.ev == nil:
			for _, w := range p.workers {
				ok = ok && w.give(ctx, it)
			}
		default:
			if key := p.route(it.ev); key == "" {
				ok = p.barrier(ctx, it)
			} else {
				h := fnv.New32a()
				h.Write([]byte(key))
				ok = p.workers[h.Sum32()%n].give(ctx, it)
			}
		}
		if !ok {
			if it.done != nil {
				it.done <- Result{Err: errStopped}
			}
			return
		}
	}
}

// barrier waits until every worker has committed what it was given, then has the
// first worker apply it.ev alone and waits for that commit too.
func (p *Pipeline) barrier(ctx context.Context, it item) bool {
	synced := make(chan struct{}, len(p.workers))
	for _, w := range p.workers {
		if !w.give(ctx, item{synced: synced, endsBatch: true}) {
			return false
		}
	}
	for range p.workers {
		select {
		case <-synced:
		case <-ctx.Done():
			return false
		}
	}
	done := make(chan Result, 1)
	if !p.workers[0].give(ctx, item{ev: it.ev, done: done, endsBatch: true}) {
		return false
	}
	var r Result
	select {
	case r = <-done:
	case <-ctx.Done():
		return false
	}
	if it.done != nil {
		it.done <- r
	}
	return true
}

func (w *worker) give(ctx context.Context, it item) bool {
	select {
	case w.queue <- it:
		return true
	case <-ctx.Done():
		return false
	}
}
