package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rmsproject/rms/server"
)

// tcol scans either dialect's time column (timestamptz or unix micros) into
// a UTC time; NULL is the zero time.
type tcol struct{ p *time.Time }

func (c tcol) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.p = time.Time{}
	case int64:
		*c.p = time.UnixMicro(x).UTC()
	case time.Time:
		*c.p = x.UTC()
	default:
		return fmt.Errorf("time column: unexpected %T", v)
	}
	return nil
}

// jcol scans a JSON column (jsonb or text) into p; an empty list becomes nil.
type jcol struct{ p any }

func (c jcol) Scan(v any) error {
	var b []byte
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		return fmt.Errorf("json column: unexpected %T", v)
	}
	return json.Unmarshal(b, c.p)
}

// js encodes a value for a JSON column. Lists are never NULL, so readers
// need not care; nil slices become [].
func js[T any](v []T) string {
	if len(v) == 0 {
		return "[]"
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Attr and Metric always marshal; a NaN metric is the one way to
		// get here, and storing it as null beats failing a heartbeat.
		return "[]"
	}
	return string(b)
}

func nilIfEmpty[T any](v []T) []T {
	if len(v) == 0 {
		return nil
	}
	return v
}

// cursor is a keyset position: the last row's sort time (unix micros), its
// seq, or its text key. Tokens are its base64 JSON, opaque to callers.
type cursor struct {
	T int64  `json:"t,omitempty"`
	S int64  `json:"s,omitempty"`
	K string `json:"k,omitempty"`
}

func (c cursor) token() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// page validates a Page: limit 0 means DefaultPageSize and a limit above
// MaxPageSize is clamped to it (a negative one is malformed). It returns the
// decoded cursor, or nil for the first page.
func page(method string, p server.Page) (int, *cursor, error) {
	limit := p.Limit
	switch {
	case limit < 0:
		return 0, nil, fail(method, server.CodeMalformed, "page limit must not be negative")
	case limit == 0:
		limit = server.DefaultPageSize
	case limit > server.MaxPageSize:
		limit = server.MaxPageSize
	}
	if p.Token == "" {
		return limit, nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Token)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || (c == cursor{}) {
		return 0, nil, fail(method, server.CodeMalformed, "invalid page token")
	}
	return limit, &c, nil
}

// micros is a time in the cursor's form.
func micros(t time.Time) int64 { return t.UnixMicro() }
