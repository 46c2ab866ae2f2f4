// Package replication is the logical-replication input of the sidecar: it keeps a
// pgoutput stream from the slot, turns row changes into change.Events for the
// pipeline, and confirms a position to the server only once the pipeline has
// committed the effects of every change up to it.
package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/dbconn"
)

// Sink receives the stream in commit order. Submit hands over one event; Mark says
// the transaction ending at lsn is complete; Committed returns the highest mark
// whose effects, and those of everything before it, are committed.
type Sink interface {
	Submit(ctx context.Context, ev *change.Event) error
	Mark(ctx context.Context, lsn uint64) error
	Committed() uint64
}

// Config is what a Stream needs to know.
type Config struct {
	URL          string // a normal connection URL; replication=database is added
	Slot         string
	Publication  string // the change records' publication; Publication+"_media" streams the guarded tables
	StandbyEvery time.Duration
	// Timeout bounds each setup statement (publication, slot, the stale consumer);
	// default 10s.
	Timeout time.Duration
	// SlotLost is called when the slot was found missing or invalidated and made
	// anew: the records of the gap are pending in the database, and the catch-up
	// should read them now.
	SlotLost func()
	// Keep, when set, says which streamed rows of the guarded tables go to the
	// pipeline, from the table and the columns the row change writes (the media
	// guard's: rows that write a guarded column). It is asked before the row is
	// decoded, so rows nobody checks cost only their parse. Notices of change
	// records always go.
	Keep func(table string, changed []string) bool
}

// Stream consumes the slot. It is not a service of its own: Run is the leader's
// work (leader.Elector runs it while this instance holds the slot's lock).
type Stream struct {
	cfg  Config
	pool *pgxpool.Pool
	sink Sink
	log  *slog.Logger

	serverEnd atomic.Uint64
	streaming atomic.Bool

	confirmedGauge prometheus.Gauge
	lagGauge       prometheus.Gauge
	reconnects     prometheus.Counter
	slotsLost      prometheus.Counter
	silences       prometheus.Counter
}

// New builds a stream. pool serves setup queries (publication, slot).
func New(cfg Config, pool *pgxpool.Pool, sink Sink, log *slog.Logger, reg prometheus.Registerer) *Stream {
	if cfg.StandbyEvery <= 0 {
		cfg.StandbyEvery = 10 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	s := &Stream{
		cfg: cfg, pool: pool, sink: sink, log: log.With("component", "replication"),
		confirmedGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sidecar_replication_confirmed_lsn", Help: "LSN confirmed (flushed) to the server."}),
		lagGauge:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "sidecar_replication_lag_bytes", Help: "Bytes of WAL between the server's end and the confirmed LSN."}),
		reconnects:     prometheus.NewCounter(prometheus.CounterOpts{Name: "sidecar_replication_reconnects_total", Help: "Replication connections lost and retried."}),
		slotsLost: prometheus.NewCounter(prometheus.CounterOpts{Name: "sidecar_replication_slot_lost_total",
			Help: "Times the replication slot was found missing or invalidated and was created anew."}),
	}
	s.silences = prometheus.NewCounter(prometheus.CounterOpts{Name: "sidecar_replication_silences_total",
		Help: "Replication streams declared dead after hearing nothing from the server for the silence bound."})
	if reg != nil {
		reg.MustRegister(s.confirmedGauge, s.lagGauge, s.reconnects, s.slotsLost, s.silences)
	}
	return s
}

// Streaming reports whether the stream is established right now.
func (s *Stream) Streaming() bool { return s.streaming.Load() }

// Run streams until ctx ends, reconnecting with backoff when the connection or the
// server goes away. Each connection resumes from the slot's confirmed position; the
// server skips what was confirmed and the pipeline's idempotency absorbs the rest.
func (s *Stream) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		started := time.Now()
		err := s.runOnce(ctx)
		s.streaming.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		s.reconnects.Inc()
		if time.Since(started) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		s.log.Warn("replication stream ended; reconnecting", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// position tracks what may be confirmed on one connection.
type position struct {
	start     uint64 // where this connection began: the slot's confirmed position
	submitted uint64 // end LSN of the last transaction handed to the sink
	idleSafe  uint64 // highest LSN before which nothing is owed beyond submitted
	sent      uint64 // last flush position sent to the server
	sentAt    time.Time
	inTxn     bool
}

func (s *Stream) confirmable(p *position) uint64 {
	// Everything before the start was confirmed already; the sink's marks begin
	// with this process's first committed transaction.
	c := max(s.sink.Committed(), p.start)
	if c >= p.submitted && p.idleSafe > c {
		return p.idleSafe
	}
	return c
}

// confirmGap is the least time between two standby statuses sent because the
// confirmable position moved; maxRead is the longest one read waits before the loop
// looks at the time again.
const (
	confirmGap = 5 * time.Millisecond
	maxRead    = 200 * time.Millisecond
)

// silenceBound is how long the stream may hear nothing before it is declared dead.
// Every standby status the stream sends asks for a reply, so a live server is never
// silent much longer than StandbyEvery; the server, for its part, ends a walsender
// that hears nothing from its client for wal_sender_timeout. Half of that (the
// point at which the server itself starts asking) is the bound, but never less than
// three status rounds.
func silenceBound(walSenderTimeout, standby time.Duration) time.Duration {
	b := walSenderTimeout / 2
	if walSenderTimeout <= 0 {
		b = 30 * time.Second // the server never times out: take its default's half
	}
	return max(b, 3*standby)
}

// setup makes sure the publication and slot exist and frees the slot from any
// consumer still holding it, all within the setup timeout. It returns where to
// start and the silence bound.
func (s *Stream) setup(ctx context.Context) (start uint64, silence time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := EnsurePublication(ctx, s.pool, s.cfg.Publication); err != nil {
		return 0, 0, err
	}
	start, lost, err := EnsureSlot(ctx, s.pool, s.cfg.Slot)
	if err != nil {
		return 0, 0, err
	}
	if lost != "" {
		s.slotsLost.Inc()
		s.log.Error("replication slot was lost and has been created anew; changes in the gap are caught up from sidecar.changes, "+
			"but media guard checks of rows written in the gap are not (run `sidecar media scan`)",
			"slot", s.cfg.Slot, "why", lost)
		if s.cfg.SlotLost != nil {
			s.cfg.SlotLost()
		}
	}
	// Run is the leader's work, so a walsender still holding the slot serves a
	// consumer that has lost the leadership lock: one whose connection went silent
	// (the server would end it only after wal_sender_timeout) or that is stepping
	// down. Ending it now lets this leader stream at once; the slot itself refuses
	// a second consumer, so two never stream together.
	var pid *int32
	err = s.pool.QueryRow(ctx, `select s.active_pid, pg_terminate_backend(s.active_pid, 5000)
		  from pg_replication_slots s where s.slot_name = $1 and s.active_pid is not null`, s.cfg.Slot).Scan(&pid, nil)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		s.log.Warn("could not end the slot's previous consumer; streaming starts once the server drops it", "err", err)
	default:
		s.log.Warn("ended the slot's previous consumer, which no longer held the leadership lock", "pid", *pid)
	}
	var wst int64
	if err := s.pool.QueryRow(ctx, `select setting::bigint from pg_settings where name = 'wal_sender_timeout'`).Scan(&wst); err != nil {
		return 0, 0, fmt.Errorf("reading wal_sender_timeout: %w", err)
	}
	return start, silenceBound(time.Duration(wst)*time.Millisecond, s.cfg.StandbyEvery), nil
}

func (s *Stream) runOnce(ctx context.Context) error {
	start, silence, err := s.setup(ctx)
	if err != nil {
		return err
	}

	pcfg, err := pgconn.ParseConfig(s.cfg.URL)
	if err != nil {
		return fmt.Errorf("parsing replication URL: %w", err)
	}
	dbconn.Configure(pcfg)
	dbconn.ReplicationParams(pcfg)
	pcfg.RuntimeParams["replication"] = "database"
	pcfg.RuntimeParams["application_name"] = "talent_sidecar_replication"
	// Instants then arrive in the one spelling the decoder respells without parsing
	// (any other still decodes, more slowly).
	pcfg.RuntimeParams["timezone"] = "UTC"
	pcfg.RuntimeParams["datestyle"] = "ISO, MDY"
	conn, err := pgconn.ConnectConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("connecting for replication: %w", err)
	}
	defer conn.Close(context.Background())

	sctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	err = pglogrepl.StartReplication(sctx, conn, s.cfg.Slot, pglogrepl.LSN(start), pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", strings.Join(publicationNames(s.cfg.Publication), ","))},
	})
	cancel()
	if err != nil {
		return fmt.Errorf("starting replication on slot %s: %w", s.cfg.Slot, err)
	}
	s.streaming.Store(true)
	s.log.Info("replication stream established", "slot", s.cfg.Slot, "publication", s.cfg.Publication,
		"start_lsn", pglogrepl.LSN(start).String(), "silence_bound", silence.String())

	p := &position{start: start, submitted: start, idleSafe: start, sent: start}
	dec := newDecoder()
	var txn txnState
	nextStandby := time.Now().Add(s.cfg.StandbyEvery)
	heard := time.Now()

	// Reads are bounded by the connection's read deadline, moved only when it must
	// (the standby deadline, a confirmation owed, maxRead at most), and a cancelled
	// ctx ends a read in progress at once: no context, timer or watcher per message.
	raw := conn.Conn()
	stopWatch := context.AfterFunc(ctx, func() { _ = raw.SetReadDeadline(time.Now()) })
	defer stopWatch()
	var deadline time.Time

	for {
		now := time.Now()
		if quiet := now.Sub(heard); quiet > silence {
			s.silences.Inc()
			return fmt.Errorf("replication stream silent for %s (bound %s): the connection is dead", quiet.Round(time.Millisecond), silence)
		}
		// A position that moved is confirmed at most every confirmGap: a drain moves
		// it with every transaction it skips, and a status per transaction was a
		// write to the server for each.
		c := s.confirmable(p)
		owed := c > p.sent
		if reply := now.After(nextStandby); reply || owed && now.Sub(p.sentAt) >= confirmGap {
			// On the deadline ask for a reply: the keepalive that answers carries the
			// server's sent position, which may be confirmed when nothing is owed.
			if err := s.sendStatus(conn, p, c, reply); err != nil {
				return err
			}
			owed = false
			if reply {
				nextStandby = now.Add(s.cfg.StandbyEvery)
			}
		}
		if ctx.Err() != nil {
			return nil
		}

		want := nextStandby
		if due := p.sentAt.Add(confirmGap); owed && due.Before(want) {
			want = due
		}
		if !now.Before(deadline) || want.Before(deadline) {
			deadline = now.Add(maxRead)
			if want.Before(deadline) {
				deadline = want
			}
			if err := raw.SetReadDeadline(deadline); err != nil {
				return fmt.Errorf("setting the replication read deadline: %w", err)
			}
		}
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				// Leaving: confirm what is durable so the next holder starts there.
				_ = s.sendStatus(conn, p, s.confirmable(p), false)
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("receiving from replication stream: %w", err)
		}
		heard = time.Now()

		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parsing keepalive: %w", err)
				}
				s.noteServerEnd(uint64(pkm.ServerWALEnd))
				if !p.inTxn && uint64(pkm.ServerWALEnd) > p.idleSafe {
					// Everything the server decoded before this position has reached
					// us already (the socket is ordered): nothing more is owed up to it.
					p.idleSafe = uint64(pkm.ServerWALEnd)
				}
				if pkm.ReplyRequested {
					if err := s.sendStatus(conn, p, s.confirmable(p), false); err != nil {
						return err
					}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parsing XLogData: %w", err)
				}
				s.noteServerEnd(uint64(xld.ServerWALEnd))
				if err := s.handle(ctx, dec, &txn, p, xld.WALData); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %s (SQLSTATE %s)", msg.Message, msg.Code)
		default:
			return fmt.Errorf("replication stream: unexpected message %T", msg)
		}
	}
}

func (s *Stream) noteServerEnd(lsn uint64) {
	if lsn > s.serverEnd.Load() {
		s.serverEnd.Store(lsn)
	}
}

func (s *Stream) sendStatus(conn *pgconn.PgConn, p *position, lsn uint64, reply bool) error {
	if lsn < p.sent {
		lsn = p.sent
	}
	// Bounded: a write into a dead network must not hold the stream.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(lsn),
		WALFlushPosition: pglogrepl.LSN(lsn),
		WALApplyPosition: pglogrepl.LSN(lsn),
		ReplyRequested:   reply,
	})
	if err != nil {
		return fmt.Errorf("sending standby status: %w", err)
	}
	if lsn > p.sent {
		s.log.Debug("confirmed", "lsn", pglogrepl.LSN(lsn).String())
	}
	p.sent, p.sentAt = lsn, time.Now()
	s.confirmedGauge.Set(float64(lsn))
	if end := s.serverEnd.Load(); end > lsn {
		s.lagGauge.Set(float64(end - lsn))
	} else {
		s.lagGauge.Set(0)
	}
	return nil
}

// txnState is the transaction being received.
type txnState struct {
	commitLSN  uint64
	commitTime time.Time
	events     int
}

func (s *Stream) handle(ctx context.Context, dec *decoder, txn *txnState, p *position, data []byte) error {
	if len(data) > 0 && (data[0] == 'I' || data[0] == 'U' || data[0] == 'D') {
		m, err := dec.parseRowMessage(data)
		if err != nil {
			return err
		}
		return s.submit(ctx, dec, txn, m)
	}
	m, err := pglogrepl.Parse(data)
	if err != nil {
		return fmt.Errorf("parsing pgoutput message: %w", err)
	}
	switch m := m.(type) {
	case *pglogrepl.RelationMessage:
		dec.relations[m.RelationID] = m
	case *pglogrepl.BeginMessage:
		p.inTxn = true
		*txn = txnState{commitLSN: uint64(m.FinalLSN), commitTime: m.CommitTime}
	case *pglogrepl.CommitMessage:
		p.inTxn = false
		end := uint64(m.TransactionEndLSN)
		if txn.events == 0 {
			// A transaction with nothing for us: owed nothing once earlier work lands.
			p.idleSafe = max(p.idleSafe, end)
			return nil
		}
		if err := s.sink.Mark(ctx, end); err != nil {
			return fmt.Errorf("marking end of transaction: %w", err)
		}
		p.submitted = end
	}
	return nil
}

func (s *Stream) submit(ctx context.Context, dec *decoder, txn *txnState, m rowMessage) error {
	rel, err := dec.relation(m.relation)
	if err != nil {
		return err
	}
	var ev *change.Event
	if rel.Namespace == change.Records.Schema && rel.RelationName == change.Records.Name {
		if m.op != change.Insert {
			return nil // the publication sends inserts only; a notice is an insert
		}
		if ev, err = dec.notice(rel, m); err != nil {
			return err
		}
	} else {
		if s.cfg.Keep != nil && !s.cfg.Keep(rel.RelationName, dec.changed(rel, m)) {
			return nil
		}
		if ev, err = dec.event(m); err != nil {
			return err
		}
		row := ev.New
		if row == nil {
			row = ev.Old
		}
		ev.Key = change.StreamKey(ev.Table, row.Str("id"), txn.commitLSN)
	}
	ev.Source, ev.CommitLSN, ev.At = change.SourceReplication, txn.commitLSN, txn.commitTime
	txn.events++
	if err := s.sink.Submit(ctx, ev); err != nil {
		return fmt.Errorf("submitting change: %w", err)
	}
	return nil
}
