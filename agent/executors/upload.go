package executors

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/soapclient"
)

// MaxUploadChunk is the most the agent sends per chunk, whatever the
// server allows: a chunk lost to a flaky link costs at most this much.
const MaxUploadChunk = 256 << 10

type uploadFile struct{ cfg Config }

// allowed reports whether path matches an upload glob.
func (e *uploadFile) allowed(path string) bool {
	for _, g := range e.cfg.UploadGlobs {
		if ok, _ := filepath.Match(g, path); ok {
			return true
		}
	}
	return false
}

func (e *uploadFile) Execute(ctx context.Context, deviceID string, in agent.Instruction) agent.Result {
	path := in.Parameters["path"]
	if !filepath.IsAbs(path) {
		return rejected("parameter path must be an absolute path")
	}
	path = filepath.Clean(path)
	// Both the name asked for and what it resolves to must be allowed, so
	// a symlink cannot reach outside the allow-list.
	resolved, err := filepath.EvalSymlinks(path)
	if !e.allowed(path) || (err == nil && !e.allowed(resolved)) {
		return rejected("%s is not on this agent's upload allow-list", path)
	}
	if err != nil {
		return failed("cannot read %s: %v", path, err)
	}
	staged, err := e.stage(deviceID, in.ID, resolved)
	if err != nil {
		return failed("cannot prepare %s: %v", path, err)
	}
	id, size, err := e.send(ctx, deviceID, in.ID, filepath.Base(resolved), staged)
	// The staged copy goes either way: a re-sent instruction stages the
	// same bytes again (redaction and gzip are deterministic), and the
	// server resumes the matching upload from its last durable offset.
	_ = os.Remove(staged)
	if err != nil {
		return failed("upload of %s failed: %v", path, err)
	}
	return agent.Result{Status: "succeeded", UploadID: id,
		Output: fmt.Sprintf("uploaded %s (%d bytes redacted and compressed) as upload %s", path, size, id)}
}

// stage writes the redacted, gzipped copy once per instruction and file.
// The bytes are the same every time for the same file, which is what lets
// the server's offset and hash checks resume an interrupted upload.
func (e *uploadFile) stage(deviceID, instructionID, src string) (string, error) {
	sum := sha256.Sum256([]byte(deviceID + "\x00" + instructionID + "\x00" + src))
	staged := filepath.Join(e.cfg.StagingDir, hex.EncodeToString(sum[:12])+".gz")
	if _, err := os.Stat(staged); err == nil {
		return staged, nil
	}
	if err := os.MkdirAll(e.cfg.StagingDir, 0o700); err != nil {
		return "", err
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(e.cfg.StagingDir, ".stage-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	zw := gzip.NewWriter(tmp)
	if e.cfg.Redact != nil {
		err = e.cfg.Redact(zw, in)
	} else {
		_, err = io.Copy(zw, in)
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cErr := tmp.Close(); err == nil {
		err = cErr
	}
	if err != nil {
		return "", err
	}
	return staged, os.Rename(tmp.Name(), staged)
}

func fileDigest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

// send uploads staged from the server's last durable offset.
func (e *uploadFile) send(ctx context.Context, deviceID, instructionID, name, staged string) (string, int64, error) {
	c := e.cfg.Hooks.Client(deviceID)
	if c == nil {
		return "", 0, fmt.Errorf("no client for device %s", deviceID)
	}
	size, sum, err := fileDigest(staged)
	if err != nil {
		return "", 0, err
	}
	kind, comp := soapclient.UploadKindLog, soapclient.CompressionGzip
	var begin *soapclient.BeginUploadResponse
	if err := retry(ctx, func() (err error) {
		begin, err = c.BeginUpload(ctx, &soapclient.BeginUpload{Name: name, Kind: &kind, Size: size, Sha256: sum,
			Compression: &comp, InstructionId: instructionID})
		return err
	}); err != nil {
		return "", 0, err
	}
	f, err := os.Open(staged)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	chunk := MaxUploadChunk
	if begin.MaxChunkBytes > 0 {
		chunk = min(chunk, int(begin.MaxChunkBytes))
	}
	buf := make([]byte, chunk)
	for offset := begin.NextOffset; offset < size; {
		n, err := f.ReadAt(buf, offset)
		if err != nil && err != io.EOF {
			return "", 0, err
		}
		var resp *soapclient.UploadChunkResponse
		if err := retry(ctx, func() (err error) {
			resp, err = c.UploadChunk(ctx, soapclient.NewUploadChunk(begin.UploadId, offset, buf[:n]))
			return err
		}); err != nil {
			return "", 0, err
		}
		offset = resp.NextOffset
	}
	if err := retry(ctx, func() error {
		_, err := c.CommitUpload(ctx, &soapclient.CommitUpload{UploadId: begin.UploadId})
		return err
	}); err != nil {
		return "", 0, err
	}
	return begin.UploadId, size, nil
}

// retry repeats a call a few times while the failure is retryable: an
// upload should ride out a short network glitch without failing the
// instruction, and a longer outage fails it (the operator can resend; the
// staged copy makes that resume).
func retry(ctx context.Context, call func() error) error {
	wait := time.Second
	var err error
	for range 5 {
		if err = call(); err == nil {
			return nil
		}
		if ok, after := soapclient.Retryable(err); !ok {
			return err
		} else if after > wait {
			wait = after
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
	return err
}
