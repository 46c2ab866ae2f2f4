// Package faultproxy is a TCP proxy on loopback for tests that need a network to
// fail the way production networks do: silently. Silence makes every connection
// open through it stop carrying bytes in either direction while the proxy keeps the
// sockets open and keeps reading (no FIN, no RST, and the peers' writes still
// succeed), as a hung pooler, a middlebox that dropped its state or a failover whose
// old address went dark looks from both ends. New connections pass normally unless
// Blackhole is on, when they are accepted and silenced too.
package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards connections from its loopback address to a target.
type Proxy struct {
	ln       net.Listener
	target   string
	blackhol atomic.Bool

	mu    sync.Mutex
	links []*link
	wg    sync.WaitGroup
}

// link is one proxied connection; once silent, bytes read from either side are
// dropped.
type link struct {
	client, server net.Conn
	silent         atomic.Bool
}

// New listens on 127.0.0.1 (a free port) and forwards to target (host:port).
func New(target string) (*Proxy, error) { return NewOn("127.0.0.1:0", target) }

// NewOn listens on listen (host:port) and forwards to target.
func NewOn(listen, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Silence makes every connection open now swallow its bytes from here on; it
// returns how many it silenced.
func (p *Proxy) Silence() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.links {
		if !l.silent.Swap(true) {
			n++
		}
	}
	return n
}

// Blackhole, when on, silences new connections as soon as they are accepted: the
// process behind the proxy can reach nothing.
func (p *Proxy) Blackhole(on bool) { p.blackhol.Store(on) }

// Close stops accepting and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, l := range p.links {
		l.client.Close()
		l.server.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{client: c, server: s}
		l.silent.Store(p.blackhol.Load())
		p.mu.Lock()
		p.links = append(p.links, l)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(l, c, s)
		go p.pump(l, s, c)
	}
}

// pump copies from src to dst until src ends; while the link is silent it reads
// and drops, so the sender never sees back-pressure or an error.
func (p *Proxy) pump(l *link, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !l.silent.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			// A peer that left closes the other side, unless the link is silent:
			// then nothing reaches the other peer, not even the close.
			if !l.silent.Load() {
				dst.Close()
			}
			return
		}
	}
}
