package replication

import (
	"bytes"
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

// row decodes one tuple. Unchanged TOASTed values ('u') are taken from fallback (the
// old row, complete under REPLICA IDENTITY FULL) so the new row is always whole. A
// value whose text equals the old tuple's (oldTuple, decoded as fallback) is not
// decoded again: an update changes a few columns, and the rest are shared with the
// old row (rows are read-only once decoded).
func (d *decoder) row(rel *pglogrepl.RelationMessage, tuple *pglogrepl.TupleData, fallback change.Row, oldTuple *pglogrepl.TupleData) (change.Row, error) {
	if tuple == nil {
		return nil, nil
	}
	row := make(change.Row, len(tuple.Columns))
	for i, col := range tuple.Columns {
		if i >= len(rel.Columns) {
			return nil, fmt.Errorf("decoding %s.%s: tuple has more columns than the relation", rel.Namespace, rel.RelationName)
		}
		name := rel.Columns[i].Name
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			row[name] = nil
		case pglogrepl.TupleDataTypeToast:
			if fallback != nil {
				row[name] = fallback[name]
			}
		case pglogrepl.TupleDataTypeText:
			if oldTuple != nil && i < len(oldTuple.Columns) {
				if o := oldTuple.Columns[i]; o.DataType == pglogrepl.TupleDataTypeText && bytes.Equal(o.Data, col.Data) {
					row[name] = fallback[name]
					continue
				}
			}
			v, err := d.value(rel.Columns[i].DataType, col.Data)
			if err != nil {
				return nil, fmt.Errorf("decoding %s.%s.%s: %w", rel.Namespace, rel.RelationName, name, err)
			}
			row[name] = v
		default:
			return nil, fmt.Errorf("decoding %s.%s.%s: unexpected tuple data type %q", rel.Namespace, rel.RelationName, name, col.DataType)
		}
	}
	return row, nil
}

// value decodes one text-format value. The common types take a direct path (this is
// the hot loop of a backlog drain); everything else goes through pgx's type map.
func (d *decoder) value(oid uint32, data []byte) (any, error) {
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.UUIDOID, pgtype.BPCharOID, pgtype.NameOID:
		return string(data), nil
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		return strconv.ParseInt(string(data), 10, 64)
	case pgtype.BoolOID:
		return len(data) == 1 && data[0] == 't', nil
	case pgtype.JSONBOID, pgtype.JSONOID:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		return rowjson.Normalize(v), nil
	case pgtype.NumericOID:
		return rowjson.Normalize(json.Number(data)), nil
	}
	typ, ok := d.types.TypeForOID(oid)
	if !ok {
		return string(data), nil // unknown (e.g. enum or domain): its text form
	}
	v, err := typ.Codec.DecodeValue(d.types, oid, pgtype.TextFormatCode, data)
	if err != nil {
		return nil, err
	}
	return normalizeValue(v), nil
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
