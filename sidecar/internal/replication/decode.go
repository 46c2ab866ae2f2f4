package replication

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/talent-onboarding/backend/sidecar/internal/change"
	"github.com/talent-onboarding/backend/sidecar/internal/rowjson"
)

// decoder turns pgoutput tuples into change.Row values shaped exactly like the rows
// Supabase's webhook payload carries once normalised by rowjson, so handlers cannot
// tell the inputs apart. It keeps the relation cache: pgoutput sends a Relation
// message before the first change of a table on each connection (and again after
// DDL), so the cache is per connection.
type decoder struct {
	types     *pgtype.Map
	relations map[uint32]*pglogrepl.RelationMessage
	// Scratch tuples of the message being decoded, reused.
	oldCols, newCols []column
}

func newDecoder() *decoder {
	return &decoder{types: pgtype.NewMap(), relations: map[uint32]*pglogrepl.RelationMessage{}}
}

func (d *decoder) relation(id uint32) (*pglogrepl.RelationMessage, error) {
	rel, ok := d.relations[id]
	if !ok {
		return nil, fmt.Errorf("decoding change: relation %d was never described", id)
	}
	return rel, nil
}

// column is one value of a pgoutput TupleData: its kind ('n' null, 'u' unchanged
// TOASTed value, 't' text) and, for text, its bytes. data aliases the message, which
// the connection reuses for the next one, so every decoded value is a copy.
type column struct {
	kind byte
	data []byte
}

// rowMessage is an Insert, Update or Delete message of pgoutput protocol version 1,
// parsed without copying (pglogrepl.Parse allocates every column twice, and this is
// the hot loop of a backlog drain).
type rowMessage struct {
	op       change.Op
	relation uint32
	old, new []column // nil when absent
}

// parseRowMessage parses data, whose first byte is 'I', 'U' or 'D'. The tuples are
// parsed into the decoder's scratch slices, valid until the next message.
func (d *decoder) parseRowMessage(data []byte) (rowMessage, error) {
	var m rowMessage
	switch data[0] {
	case 'I':
		m.op = change.Insert
	case 'U':
		m.op = change.Update
	case 'D':
		m.op = change.Delete
	default:
		return m, fmt.Errorf("parsing pgoutput message: %q is not a row change", data[0])
	}
	if len(data) < 6 {
		return m, fmt.Errorf("parsing pgoutput %s message: %d bytes is too short", m.op, len(data))
	}
	m.relation = binary.BigEndian.Uint32(data[1:5])
	b := data[5:]
	var err error
	for len(b) > 0 {
		tag := b[0]
		switch {
		case tag == 'N' && m.op != change.Delete && m.new == nil:
			if m.new, b, err = parseTuple(b[1:], d.newCols[:0]); err != nil {
				return m, fmt.Errorf("parsing pgoutput %s message: new tuple: %w", m.op, err)
			}
			d.newCols = m.new
		case (tag == 'O' || tag == 'K') && m.op != change.Insert && m.old == nil && m.new == nil:
			if m.old, b, err = parseTuple(b[1:], d.oldCols[:0]); err != nil {
				return m, fmt.Errorf("parsing pgoutput %s message: old tuple: %w", m.op, err)
			}
			d.oldCols = m.old
		default:
			return m, fmt.Errorf("parsing pgoutput %s message: unexpected tuple tag %q", m.op, tag)
		}
	}
	if (m.op != change.Delete && m.new == nil) || (m.op == change.Delete && m.old == nil) {
		return m, fmt.Errorf("parsing pgoutput %s message: tuple missing", m.op)
	}
	return m, nil
}

// parseTuple reads a TupleData (Int16 count, then per column a kind byte and, for
// 't' and 'b', an Int32 length and the bytes) into cols, and returns the rest of b.
func parseTuple(b []byte, cols []column) ([]column, []byte, error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("truncated column count")
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	for i := 0; i < n; i++ {
		if len(b) < 1 {
			return nil, nil, fmt.Errorf("column %d of %d: truncated", i+1, n)
		}
		c := column{kind: b[0]}
		b = b[1:]
		switch c.kind {
		case 'n', 'u':
		case 't', 'b':
			if len(b) < 4 {
				return nil, nil, fmt.Errorf("column %d of %d: truncated length", i+1, n)
			}
			l := int(binary.BigEndian.Uint32(b))
			if l < 0 || l > len(b)-4 {
				return nil, nil, fmt.Errorf("column %d of %d: length %d exceeds the message", i+1, n, l)
			}
			c.data = b[4 : 4+l]
			b = b[4+l:]
		default:
			return nil, nil, fmt.Errorf("column %d of %d: unknown kind %q", i+1, n, c.kind)
		}
		cols = append(cols, c)
	}
	return cols, b, nil
}

// event decodes a row message into an event of its table: the old row first, then
// the new row, which shares the old row's unchanged values. The caller adds the
// source, the transaction's position and the key.
func (d *decoder) event(m rowMessage) (*change.Event, error) {
	rel, err := d.relation(m.relation)
	if err != nil {
		return nil, err
	}
	ev := &change.Event{Schema: rel.Namespace, Table: rel.RelationName, Op: m.op}
	if ev.Old, err = d.row(rel, m.old, nil, nil); err != nil {
		return nil, err
	}
	if ev.New, err = d.row(rel, m.new, ev.Old, m.old); err != nil {
		return nil, err
	}
	return ev, nil
}

// changed names the columns a row message writes, from the raw tuples without
// decoding them: every non-null column of an insert; the columns of an update whose
// new value is not the old one's bytes (an unchanged TOASTed value, 'u', is
// unchanged); none for a delete.
func (d *decoder) changed(rel *pglogrepl.RelationMessage, m rowMessage) []string {
	var out []string
	for i, c := range rel.Columns {
		if i >= len(m.new) {
			break
		}
		n := m.new[i]
		switch {
		case m.op == change.Delete:
			return nil
		case m.op == change.Insert:
			if n.kind == 'n' {
				continue
			}
		case n.kind == 'u':
			continue
		case m.old != nil && i < len(m.old) && m.old[i].kind == n.kind && bytes.Equal(m.old[i].data, n.data):
			continue
		}
		out = append(out, c.Name)
	}
	return out
}

// notice decodes an insert into the change record table into a notice: its id and
// key, the only columns the pipeline reads from the stream (it claims the record
// itself from the database).
func (d *decoder) notice(rel *pglogrepl.RelationMessage, m rowMessage) (*change.Event, error) {
	ev := &change.Event{Schema: rel.Namespace, Table: rel.RelationName, Op: m.op, Notice: true}
	for i, c := range rel.Columns {
		if i >= len(m.new) || m.new[i].kind != 't' {
			continue
		}
		switch c.Name {
		case "id":
			id, err := strconv.ParseInt(string(m.new[i].data), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("decoding change record id %q: %w", m.new[i].data, err)
			}
			ev.ID = id
		case "row_key":
			ev.RowKey = string(m.new[i].data)
		}
	}
	if ev.ID <= 0 || ev.RowKey == "" {
		return nil, fmt.Errorf("decoding change record: insert into %s.%s without id or row_key", rel.Namespace, rel.RelationName)
	}
	return ev, nil
}

// row decodes one tuple. Unchanged TOASTed values ('u') are taken from fallback (the
// old row, complete under REPLICA IDENTITY FULL) so the new row is always whole. A
// value whose text equals the old tuple's (old, decoded as fallback) is not decoded
// again: an update changes a few columns, and the rest are shared with the old row
// (rows are read-only once decoded).
func (d *decoder) row(rel *pglogrepl.RelationMessage, tuple []column, fallback change.Row, old []column) (change.Row, error) {
	if tuple == nil {
		return nil, nil
	}
	if len(tuple) > len(rel.Columns) {
		return nil, fmt.Errorf("decoding %s.%s: tuple has %d columns, the relation %d", rel.Namespace, rel.RelationName, len(tuple), len(rel.Columns))
	}
	row := make(change.Row, len(tuple))
	for i, col := range tuple {
		name := rel.Columns[i].Name
		switch col.kind {
		case 'n':
			row[name] = nil
		case 'u':
			if fallback != nil {
				row[name] = fallback[name]
			}
		case 't':
			if i < len(old) && old[i].kind == 't' && fallback != nil && bytes.Equal(old[i].data, col.data) {
				row[name] = fallback[name]
				continue
			}
			v, err := d.value(rel.Columns[i].DataType, col.data)
			if err != nil {
				return nil, fmt.Errorf("decoding %s.%s.%s: %w", rel.Namespace, rel.RelationName, name, err)
			}
			row[name] = v
		default:
			return nil, fmt.Errorf("decoding %s.%s.%s: unexpected tuple data type %q", rel.Namespace, rel.RelationName, name, col.kind)
		}
	}
	return row, nil
}

// value decodes one text-format value into a fresh value (data is reused by the
// connection). The common types take a direct path; everything else goes through
// pgx's type map.
func (d *decoder) value(oid uint32, data []byte) (any, error) {
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.UUIDOID, pgtype.BPCharOID, pgtype.NameOID:
		return string(data), nil
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return strconv.ParseInt(string(data), 10, 64)
	case pgtype.BoolOID:
		return len(data) == 1 && data[0] == 't', nil
	case pgtype.TimestamptzOID:
		if s, ok := isoUTC(data); ok {
			return s, nil
		}
	case pgtype.JSONBOID, pgtype.JSONOID:
		switch string(data) {
		case "{}":
			return map[string]any{}, nil
		case "[]":
			return []any{}, nil
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		return rowjson.Normalize(v), nil
	case pgtype.NumericOID:
		return rowjson.Normalize(json.Number(data)), nil
	case pgtype.TextArrayOID:
		if string(data) == "{}" {
			return []any{}, nil
		}
	}
	typ, ok := d.types.TypeForOID(oid)
	if !ok {
		return string(data), nil // unknown (e.g. enum or domain): its text form
	}
	v, err := typ.Codec.DecodeValue(d.types, oid, pgtype.TextFormatCode, bytes.Clone(data))
	if err != nil {
		return nil, err
	}
	return normalizeValue(v), nil
}

// isoUTC respells a timestamptz in Postgres' ISO output for a UTC session
// ("2006-01-02 15:04:05.123450+00", the replication connection's settings) as
// rowjson.Time does ("2006-01-02T15:04:05.12345Z"), without parsing it into a
// time.Time. Anything else (another offset, a year past 9999, BC, infinity) is
// refused and takes the general path.
func isoUTC(b []byte) (string, bool) {
	n := len(b)
	if n < 22 || string(b[n-3:]) != "+00" || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return "", false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if b[i] < '0' || b[i] > '9' {
			return "", false
		}
	}
	frac := b[19 : n-3]
	if len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return "", false
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return "", false
			}
		}
		frac = bytes.TrimRight(frac, "0")
		if len(frac) == 1 {
			frac = nil
		}
	}
	out := make([]byte, 0, 20+len(frac))
	out = append(out, b[:10]...)
	out = append(out, 'T')
	out = append(out, b[11:19]...)
	out = append(out, frac...)
	out = append(out, 'Z')
	return string(out), true
}

// normalizeValue maps pgx's Go values onto the JSON-compatible set change.Row allows.
func normalizeValue(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return x
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return rowjson.Time(x)
	case [16]byte:
		return pgtype.UUID{Bytes: x, Valid: true}.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e)
		}
		return out
	case map[string]any:
		return rowjson.Normalize(x)
	case pgtype.Numeric:
		b, err := x.MarshalJSON()
		if err != nil {
			return nil
		}
		return rowjson.Normalize(json.Number(b))
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}
