package uploads

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rmsproject/rms/server"
)

// Limits.
const (
	DefaultMaxChunk = 256 << 10 // bytes of raw data per chunk (≈342 KiB base64 on the wire)
	DefaultMaxSize  = 1 << 30   // bytes per upload, as sent and after decompression
	MaxFetch        = 512 << 10 // bytes per FetchUpload call; base64 keeps the answer under a client's 1 MiB default cap
	MaxNameLength   = 255
)

// Config configures a Service.
type Config struct {
	Dir      string             // required; created if missing
	Store    server.UploadStore // required
	MaxChunk int                // default DefaultMaxChunk
	MaxSize  int64              // default DefaultMaxSize
	Now      func() time.Time
}

func (c *Config) validate() error {
	if c.Dir == "" || c.Store == nil {
		return errors.New("uploads: Dir and Store are required")
	}
	if c.MaxChunk <= 0 {
		c.MaxChunk = DefaultMaxChunk
	}
	if c.MaxSize <= 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Service implements server.Uploads.
type Service struct {
	cfg Config
	// locks serialize the chunks of one upload. They are striped by id, so
	// ids a device makes up cost nothing to remember.
	locks [64]sync.Mutex
}

var _ server.Uploads = (*Service)(nil)

// New returns a Service, creating its directory.
func New(cfg Config) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("uploads.New: %w", err)
	}
	return &Service{cfg: cfg}, nil
}

func (s *Service) lock(id string) func() {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	mu := &s.locks[h.Sum32()%uint32(len(s.locks))]
	mu.Lock()
	return mu.Unlock
}

func (s *Service) path(id, suffix string) string { return filepath.Join(s.cfg.Dir, id+suffix) }

var errStorage = errors.New("storage failure")

func unavailable(op string, err error) error {
	return fmt.Errorf("%s: %w", op, server.Wrap(server.CodeUnavailable, "upload storage is unavailable", errors.Join(errStorage, err)))
}

// Begin implements server.Uploads.
func (s *Service) Begin(ctx context.Context, ref server.MessageRef, u server.NewUpload) (*server.Upload, int, error) {
	switch {
	case u.Name == "" || len(u.Name) > MaxNameLength || strings.ContainsAny(u.Name, "\x00/\\"):
		return nil, 0, server.Errorf(server.CodeMalformed, "upload name must be 1..%d characters without path separators", MaxNameLength)
	case u.Size < 0 || u.Size > s.cfg.MaxSize:
		return nil, 0, server.Errorf(server.CodeTooLarge, "upload size must be 0..%d bytes", s.cfg.MaxSize)
	case !isSHA256(u.SHA256):
		return nil, 0, server.Errorf(server.CodeMalformed, "sha256 must be 64 hex digits")
	}
	if u.Compression == "" {
		u.Compression = server.CompressionNone
	}
	up, err := s.cfg.Store.BeginUpload(ctx, ref, u, s.cfg.Now())
	if err != nil {
		return nil, 0, fmt.Errorf("uploads.Begin: %w", err)
	}
	if up.DeviceID != ref.DeviceID {
		return nil, 0, server.Errorf(server.CodeNotFound, "no such upload")
	}
	return up, s.cfg.MaxChunk, nil
}

func (s *Service) own(ctx context.Context, deviceID, id string) (*server.Upload, error) {
	up, err := s.cfg.Store.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	if up.DeviceID != deviceID {
		// Another device's upload is as good as absent to this one.
		return nil, server.Errorf(server.CodeNotFound, "no such upload")
	}
	return up, nil
}

// Chunk implements server.Uploads.
func (s *Service) Chunk(ctx context.Context, deviceID, id string, offset int64, sum string, data []byte) (int64, error) {
	if len(data) == 0 || len(data) > s.cfg.MaxChunk {
		return 0, server.Errorf(server.CodeTooLarge, "chunk must hold 1..%d bytes", s.cfg.MaxChunk)
	}
	got := sha256.Sum256(data)
	if !strings.EqualFold(hex.EncodeToString(got[:]), sum) {
		return 0, server.Errorf(server.CodeMalformed, "chunk SHA-256 does not match its data")
	}
	defer s.lock(id)()
	up, err := s.own(ctx, deviceID, id)
	if err != nil {
		return 0, fmt.Errorf("uploads.Chunk: %w", err)
	}
	if up.State != server.UploadReceiving {
		return 0, server.Errorf(server.CodeConflict, "upload is %s", up.State)
	}
	end := offset + int64(len(data))
	if end > up.Size {
		return 0, server.Errorf(server.CodeTooLarge, "chunk ends at %d, past the declared size %d", end, up.Size)
	}
	f, err := os.OpenFile(s.path(id, ".part"), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return 0, unavailable("uploads.Chunk", err)
	}
	defer f.Close()
	if offset != up.Received {
		// A re-sent chunk that is already durable is answered as if it
		// were new, so a device that lost the answer moves on.
		if end <= up.Received && sameBytes(f, offset, data) {
			return up.Received, nil
		}
		return 0, server.Errorf(server.CodeConflict, "chunk offset %d does not continue the upload at %d", offset, up.Received)
	}
	// Bytes past the recorded offset are from a write whose record never
	// landed; drop them before appending.
	if err := f.Truncate(offset); err != nil {
		return 0, unavailable("uploads.Chunk", err)
	}
	if _, err := f.WriteAt(data, offset); err != nil {
		return 0, unavailable("uploads.Chunk", err)
	}
	if err := f.Sync(); err != nil {
		return 0, unavailable("uploads.Chunk", err)
	}
	if err := s.cfg.Store.AdvanceUpload(ctx, id, offset, end); err != nil {
		return 0, fmt.Errorf("uploads.Chunk: %w", err)
	}
	return end, nil
}

func sameBytes(f *os.File, offset int64, data []byte) bool {
	buf := make([]byte, len(data))
	if _, err := f.ReadAt(buf, offset); err != nil {
		return false
	}
	return bytes.Equal(buf, data)
}

// Commit implements server.Uploads.
func (s *Service) Commit(ctx context.Context, deviceID, id string) (*server.Upload, error) {
	defer s.lock(id)()
	up, err := s.own(ctx, deviceID, id)
	if err != nil {
		return nil, fmt.Errorf("uploads.Commit: %w", err)
	}
	if up.State == server.UploadCommitted {
		return up, nil // a repeated commit is answered again
	}
	if up.State != server.UploadReceiving {
		return nil, server.Errorf(server.CodeConflict, "upload is %s", up.State)
	}
	if up.Received != up.Size {
		return nil, server.Errorf(server.CodeConflict, "upload has %d of %d bytes", up.Received, up.Size)
	}
	part, final := s.path(id, ".part"), s.path(id, "")
	if _, err := os.Stat(final); err == nil {
		// An earlier commit verified and placed the content but did not get
		// to record it (a crash, a store error): record it now.
		return s.finish(ctx, id)
	}
	if up.Size == 0 {
		if err := os.WriteFile(part, nil, 0o640); err != nil {
			return nil, unavailable("uploads.Commit", err)
		}
	}
	sum, err := fileSHA256(part)
	if err != nil {
		return nil, unavailable("uploads.Commit", err)
	}
	if !strings.EqualFold(sum, up.SHA256) {
		return s.fail(ctx, up, server.Errorf(server.CodeMalformed, "uploaded content does not match its SHA-256"))
	}
	placed := part
	if up.Compression == server.CompressionGzip {
		if err := s.gunzip(part, final+".tmp"); err != nil {
			if server.CodeOf(err) == server.CodeMalformed || server.CodeOf(err) == server.CodeTooLarge {
				return s.fail(ctx, up, err)
			}
			return nil, err
		}
		placed = final + ".tmp"
	}
	// The rename is the commit point on disk: before it a retry verifies
	// the .part file again, after it a retry only records the result.
	if err := os.Rename(placed, final); err != nil {
		return nil, unavailable("uploads.Commit", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return nil, unavailable("uploads.Commit", err)
	}
	_ = os.Remove(part) // the compressed copy, once decompressed; gone already otherwise
	return s.finish(ctx, id)
}

// finish records a placed upload as committed.
func (s *Service) finish(ctx context.Context, id string) (*server.Upload, error) {
	done, err := s.cfg.Store.FinishUpload(ctx, id, server.UploadCommitted, s.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("uploads.Commit: %w", err)
	}
	if meta, err := json.MarshalIndent(done, "", "  "); err == nil {
		_ = os.WriteFile(s.path(id, ".json"), meta, 0o640) // a convenience copy; the store is the record
	}
	return done, nil
}

// fail marks the upload failed and returns why, keeping its code: a gzip
// bomb is TOO_LARGE, not MALFORMED, so a device can tell the two apart.
func (s *Service) fail(ctx context.Context, up *server.Upload, why error) (*server.Upload, error) {
	if _, err := s.cfg.Store.FinishUpload(ctx, up.ID, server.UploadFailed, s.cfg.Now()); err != nil {
		return nil, fmt.Errorf("uploads.Commit: %w", err)
	}
	_ = os.Remove(s.path(up.ID, ".part"))
	return nil, why
}

func (s *Service) gunzip(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return unavailable("uploads.Commit", err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return server.Errorf(server.CodeMalformed, "content is not gzip")
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return unavailable("uploads.Commit", err)
	}
	defer out.Close()
	n, err := io.Copy(out, io.LimitReader(zr, s.cfg.MaxSize+1))
	if err != nil {
		_ = os.Remove(dst)
		return server.Errorf(server.CodeMalformed, "content is not valid gzip")
	}
	if n > s.cfg.MaxSize {
		_ = os.Remove(dst)
		return server.Errorf(server.CodeTooLarge, "content decompresses past %d bytes", s.cfg.MaxSize)
	}
	if err := out.Sync(); err != nil {
		return unavailable("uploads.Commit", err)
	}
	return nil
}

// Read implements server.Uploads.
func (s *Service) Read(ctx context.Context, id string, offset int64, length int) ([]byte, bool, *server.Upload, error) {
	up, err := s.cfg.Store.GetUpload(ctx, id)
	if err != nil {
		return nil, false, nil, fmt.Errorf("uploads.Read: %w", err)
	}
	if up.State != server.UploadCommitted {
		return nil, false, nil, server.Errorf(server.CodeConflict, "upload is %s, not committed", up.State)
	}
	if length <= 0 || length > MaxFetch {
		length = MaxFetch
	}
	f, err := os.Open(s.path(id, ""))
	if err != nil {
		return nil, false, nil, unavailable("uploads.Read", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, nil, unavailable("uploads.Read", err)
	}
	if offset < 0 || offset > st.Size() {
		return nil, false, nil, server.Errorf(server.CodeMalformed, "offset must be 0..%d", st.Size())
	}
	buf := make([]byte, min(int64(length), st.Size()-offset))
	if _, err := f.ReadAt(buf, offset); err != nil && !errors.Is(err, io.EOF) {
		return nil, false, nil, unavailable("uploads.Read", err)
	}
	return buf, offset+int64(len(buf)) == st.Size(), up, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
