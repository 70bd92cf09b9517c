package server

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// GenesisHash is the PrevHash of the first audit record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditHash computes a record's hash from the previous record's hash, its
// sequence number and its entry. Each field is length-prefixed, so no choice
// of field contents can make two different records hash alike. Times are
// hashed as UTC with microsecond precision: what both stores keep.
func AuditHash(prev string, seq int64, e AuditEntry) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
		b.WriteByte(';')
	}
	field(prev)
	field(strconv.FormatInt(seq, 10))
	field(e.Time.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z"))
	field(e.Actor)
	field(e.Action)
	field(e.Target)
	field(string(e.Outcome))
	field(string(e.Code))
	field(e.Detail)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// ChainBreak describes the first record whose hash or link is wrong.
type ChainBreak struct {
	Sequence int64
	Reason   string
}

// ChainVerifier checks audit records fed in sequence order. It keeps only the
// previous record, so a chain of any length is checked in constant memory.
type ChainVerifier struct {
	prev    string
	prevSeq int64
	started bool
	Checked int64
}

// Next checks one record; it returns nil while the chain holds.
func (v *ChainVerifier) Next(r AuditRecord) *ChainBreak {
	if !v.started {
		v.started = true
		if r.Sequence == 1 && r.PrevHash != GenesisHash {
			return &ChainBreak{r.Sequence, "first record does not start from the genesis hash"}
		}
	} else {
		if r.Sequence != v.prevSeq+1 {
			return &ChainBreak{v.prevSeq + 1, "record is missing"}
		}
		if r.PrevHash != v.prev {
			return &ChainBreak{r.Sequence, "previous-hash link does not match the record before"}
		}
	}
	if AuditHash(r.PrevHash, r.Sequence, r.AuditEntry) != r.Hash {
		return &ChainBreak{r.Sequence, "record content does not match its hash"}
	}
	v.prev, v.prevSeq = r.Hash, r.Sequence
	v.Checked++
	return nil
}
