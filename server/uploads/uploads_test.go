package uploads_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/server/sqlstore"
	"github.com/rmsproject/rms/server/uploads"
)

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	Expect(err).NotTo(HaveOccurred())
	Expect(zw.Close()).To(Succeed())
	return buf.Bytes()
}

func codeOf(err error) server.Code { return server.CodeOf(err) }

// The service runs over the real SQLite store: the offsets it relies on
// for resumption are the store's, and a fake would only restate them.
var _ = Describe("Service", func() {
	const (
		maxChunk = 1024
		maxSize  = 64 << 10
	)
	var (
		ctx   context.Context
		store *sqlstore.Store
		dir   string
		svc   *uploads.Service
	)
	ref := func(device string) server.MessageRef {
		return server.MessageRef{DeviceID: device, MessageID: uuid.NewString(), SentAt: time.Now()}
	}
	begin := func(device string, content []byte, comp server.Compression) *server.Upload {
		GinkgoHelper()
		up, mc, err := svc.Begin(ctx, ref(device), server.NewUpload{Name: "system.log", Kind: server.UploadLog,
			Size: int64(len(content)), SHA256: hexSHA(content), Compression: comp})
		Expect(err).NotTo(HaveOccurred())
		Expect(mc).To(Equal(maxChunk))
		return up
	}
	send := func(device string, up *server.Upload, content []byte) {
		GinkgoHelper()
		for off := 0; off < len(content); off += maxChunk {
			part := content[off:min(off+maxChunk, len(content))]
			next, err := svc.Chunk(ctx, device, up.ID, int64(off), hexSHA(part), part)
			Expect(err).NotTo(HaveOccurred())
			Expect(next).To(BeEquivalentTo(off + len(part)))
		}
	}
	readAll := func(id string) []byte {
		GinkgoHelper()
		var out []byte
		for off := int64(0); ; {
			data, eof, _, err := svc.Read(ctx, id, off, 0)
			Expect(err).NotTo(HaveOccurred())
			out = append(out, data...)
			off += int64(len(data))
			if eof {
				return out
			}
		}
	}

	BeforeEach(func() {
		ctx = context.Background()
		dir = GinkgoT().TempDir()
		var err error
		store, err = sqlstore.Open(ctx, sqlstore.Config{URL: "sqlite:" + filepath.Join(dir, "rms.db")})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(store.Close)
		for _, id := range []string{"dev-0001", "dev-0002"} {
			_, err := store.AdmitDevice(ctx, server.Identity{DeviceID: id}, true, time.Now())
			Expect(err).NotTo(HaveOccurred())
		}
		svc, err = uploads.New(uploads.Config{Dir: filepath.Join(dir, "data"), Store: store, MaxChunk: maxChunk, MaxSize: maxSize})
		Expect(err).NotTo(HaveOccurred())
	})

	DescribeTable("Begin validates the request before the store sees it",
		func(mutate func(*server.NewUpload), want server.Code) {
			u := server.NewUpload{Name: "a.log", Kind: server.UploadLog, Size: 10, SHA256: strings.Repeat("ab", 32)}
			mutate(&u)
			up, _, err := svc.Begin(ctx, ref("dev-0001"), u)
			if want == "" {
				Expect(err).NotTo(HaveOccurred())
				Expect(up.Size).To(Equal(u.Size))
				return
			}
			Expect(codeOf(err)).To(Equal(want), "%v", err)
		},
		Entry("a plain name", func(*server.NewUpload) {}, server.Code("")),
		Entry("an empty name", func(u *server.NewUpload) { u.Name = "" }, server.CodeMalformed),
		Entry("a name of MaxNameLength", func(u *server.NewUpload) { u.Name = strings.Repeat("n", uploads.MaxNameLength) }, server.Code("")),
		Entry("a name one past MaxNameLength", func(u *server.NewUpload) { u.Name = strings.Repeat("n", uploads.MaxNameLength+1) }, server.CodeMalformed),
		Entry("a name with a slash", func(u *server.NewUpload) { u.Name = "../etc/passwd" }, server.CodeMalformed),
		Entry("a name with a backslash", func(u *server.NewUpload) { u.Name = `..\boot.ini` }, server.CodeMalformed),
		Entry("a name with a NUL", func(u *server.NewUpload) { u.Name = "a\x00b" }, server.CodeMalformed),
		Entry("size 0", func(u *server.NewUpload) { u.Size = 0 }, server.Code("")),
		Entry("size at MaxSize", func(u *server.NewUpload) { u.Size = maxSize }, server.Code("")),
		Entry("size one past MaxSize", func(u *server.NewUpload) { u.Size = maxSize + 1 }, server.CodeTooLarge),
		Entry("a negative size", func(u *server.NewUpload) { u.Size = -1 }, server.CodeTooLarge),
		Entry("a short sha256", func(u *server.NewUpload) { u.SHA256 = strings.Repeat("ab", 31) }, server.CodeMalformed),
		Entry("a sha256 that is not hex", func(u *server.NewUpload) { u.SHA256 = strings.Repeat("zz", 32) }, server.CodeMalformed),
		Entry("an unknown kind", func(u *server.NewUpload) { u.Kind = "core-dump" }, server.CodeMalformed),
		Entry("an unknown compression", func(u *server.NewUpload) { u.Compression = "bzip2" }, server.CodeMalformed),
	)

	It("records a commit that placed its file but crashed before recording it", func() {
		content := []byte(strings.Repeat("line\n", 300))
		up := begin("dev-0001", content, server.CompressionNone)
		send("dev-0001", up, content)
		// The crash: the content moved into place, the store never heard.
		Expect(os.Rename(filepath.Join(dir, "data", up.ID+".part"), filepath.Join(dir, "data", up.ID))).To(Succeed())
		done, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(done.State).To(Equal(server.UploadCommitted))
		Expect(readAll(up.ID)).To(Equal(content))
	})

	It("takes a chunk of exactly MaxChunk and refuses one byte more", func() {
		content := bytes.Repeat([]byte{'x'}, 2*maxChunk+1)
		up := begin("dev-0001", content, server.CompressionNone)
		over := content[:maxChunk+1]
		_, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(over), over)
		Expect(codeOf(err)).To(Equal(server.CodeTooLarge))
		next, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(content[:maxChunk]), content[:maxChunk])
		Expect(err).NotTo(HaveOccurred())
		Expect(next).To(BeEquivalentTo(maxChunk))
		_, err = svc.Chunk(ctx, "dev-0001", up.ID, maxChunk, hexSHA(nil), nil)
		Expect(codeOf(err)).To(Equal(server.CodeTooLarge), "an empty chunk makes no progress")
	})

	It("refuses a chunk whose SHA-256 does not match, without moving the offset", func() {
		content := []byte("hello, world")
		up := begin("dev-0001", content, server.CompressionNone)
		_, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA([]byte("something else")), content)
		Expect(codeOf(err)).To(Equal(server.CodeMalformed))
		got, err := store.GetUpload(ctx, up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Received).To(BeZero())
	})

	It("answers a wrong offset with CONFLICT and a re-sent durable chunk with the current offset", func() {
		content := bytes.Repeat([]byte("0123456789"), 300)
		up := begin("dev-0001", content, server.CompressionNone)
		first, second := content[:maxChunk], content[maxChunk:2*maxChunk]
		_, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(first), first)
		Expect(err).NotTo(HaveOccurred())
		_, err = svc.Chunk(ctx, "dev-0001", up.ID, maxChunk, hexSHA(second), second)
		Expect(err).NotTo(HaveOccurred())

		// A gap: the device skipped data.
		third := content[2*maxChunk:]
		_, err = svc.Chunk(ctx, "dev-0001", up.ID, 2*maxChunk+1, hexSHA(third[1:]), third[1:])
		Expect(codeOf(err)).To(Equal(server.CodeConflict))
		// The first chunk again (its answer was lost): the device learns
		// where to continue, not an error.
		next, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(first), first)
		Expect(err).NotTo(HaveOccurred())
		Expect(next).To(BeEquivalentTo(2 * maxChunk))
		// Same offset, different bytes: not a re-send, a conflict.
		other := bytes.Repeat([]byte{'z'}, maxChunk)
		_, err = svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(other), other)
		Expect(codeOf(err)).To(Equal(server.CodeConflict))
	})

	It("refuses a chunk that ends past the declared size", func() {
		content := []byte("twelve bytes")
		up := begin("dev-0001", content, server.CompressionNone)
		more := append(bytes.Clone(content), '!')
		_, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(more), more)
		Expect(codeOf(err)).To(Equal(server.CodeTooLarge))
	})

	It("treats another device's upload as absent", func() {
		content := []byte("private to dev-0001")
		up := begin("dev-0001", content, server.CompressionNone)
		_, err := svc.Chunk(ctx, "dev-0002", up.ID, 0, hexSHA(content), content)
		Expect(codeOf(err)).To(Equal(server.CodeNotFound))
		send("dev-0001", up, content)
		_, err = svc.Commit(ctx, "dev-0002", up.ID)
		Expect(codeOf(err)).To(Equal(server.CodeNotFound))
		_, err = svc.Chunk(ctx, "dev-0001", "no-such-upload", 0, hexSHA(content), content)
		Expect(codeOf(err)).To(Equal(server.CodeNotFound))
	})

	It("refuses a commit before every byte arrived, then commits and serves the content", func() {
		content := bytes.Repeat([]byte("line of log\n"), 500)
		up := begin("dev-0001", content, server.CompressionNone)
		_, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(content[:maxChunk]), content[:maxChunk])
		Expect(err).NotTo(HaveOccurred())
		_, err = svc.Commit(ctx, "dev-0001", up.ID)
		Expect(codeOf(err)).To(Equal(server.CodeConflict))
		_, _, _, err = svc.Read(ctx, up.ID, 0, 0)
		Expect(codeOf(err)).To(Equal(server.CodeConflict), "an unfinished upload is not served")

		up.Received = maxChunk
		for off := maxChunk; off < len(content); off += maxChunk {
			part := content[off:min(off+maxChunk, len(content))]
			_, err := svc.Chunk(ctx, "dev-0001", up.ID, int64(off), hexSHA(part), part)
			Expect(err).NotTo(HaveOccurred())
		}
		done, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(done.State).To(Equal(server.UploadCommitted))
		again, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(err).NotTo(HaveOccurred(), "a repeated commit is answered again")
		Expect(again.ID).To(Equal(done.ID))
		Expect(readAll(up.ID)).To(Equal(content))
		_, err = svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(content[:10]), content[:10])
		Expect(codeOf(err)).To(Equal(server.CodeConflict), "a committed upload takes no more chunks")
	})

	It("fails an upload whose whole-file hash does not match", func() {
		content := []byte("the bytes the device meant")
		sent := []byte("the bytes the device sent!")
		Expect(sent).To(HaveLen(len(content)))
		up := begin("dev-0001", content, server.CompressionNone)
		_, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(sent), sent)
		Expect(err).NotTo(HaveOccurred())
		_, err = svc.Commit(ctx, "dev-0001", up.ID)
		Expect(codeOf(err)).To(Equal(server.CodeMalformed))
		got, err := store.GetUpload(ctx, up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.State).To(Equal(server.UploadFailed))
		Expect(filepath.Join(dir, "data", up.ID+".part")).NotTo(BeAnExistingFile())
		_, err = svc.Commit(ctx, "dev-0001", up.ID)
		Expect(codeOf(err)).To(Equal(server.CodeConflict), "a failed upload stays failed")
	})

	It("serves gzip content decompressed", func() {
		content := bytes.Repeat([]byte("compressible "), 2000)
		sent := gz(content)
		up := begin("dev-0001", sent, server.CompressionGzip)
		send("dev-0001", up, sent)
		done, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(done.SHA256).To(Equal(hexSHA(sent)))
		Expect(readAll(up.ID)).To(Equal(content))
	})

	It("fails a gzip upload that is not gzip", func() {
		sent := []byte("plain text pretending to be gzip")
		up := begin("dev-0001", sent, server.CompressionGzip)
		send("dev-0001", up, sent)
		_, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(codeOf(err)).To(Equal(server.CodeMalformed))
		got, err := store.GetUpload(ctx, up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.State).To(Equal(server.UploadFailed))
	})

	It("fails a gzip upload cut short", func() {
		sent := gz(bytes.Repeat([]byte("abc"), 5000))
		sent = sent[:len(sent)-8] // no trailer: the checksum cannot be checked
		up := begin("dev-0001", sent, server.CompressionGzip)
		send("dev-0001", up, sent)
		_, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(codeOf(err)).To(Equal(server.CodeMalformed))
	})

	It("fails a gzip bomb that decompresses past MaxSize, leaving no file behind", func() {
		sent := gz(make([]byte, maxSize+1))
		Expect(len(sent)).To(BeNumerically("<", maxSize))
		up := begin("dev-0001", sent, server.CompressionGzip)
		send("dev-0001", up, sent)
		_, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(codeOf(err)).To(Equal(server.CodeTooLarge))
		got, err := store.GetUpload(ctx, up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.State).To(Equal(server.UploadFailed))
		left, err := os.ReadDir(filepath.Join(dir, "data"))
		Expect(err).NotTo(HaveOccurred())
		Expect(left).To(BeEmpty())
	})

	It("accepts gzip content that decompresses to exactly MaxSize", func() {
		content := make([]byte, maxSize)
		sent := gz(content)
		up := begin("dev-0001", sent, server.CompressionGzip)
		send("dev-0001", up, sent)
		_, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(readAll(up.ID)).To(Equal(content))
	})

	It("commits a zero-byte upload and serves it as empty", func() {
		up := begin("dev-0001", nil, server.CompressionNone)
		done, err := svc.Commit(ctx, "dev-0001", up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(done.State).To(Equal(server.UploadCommitted))
		data, eof, _, err := svc.Read(ctx, up.ID, 0, 100)
		Expect(err).NotTo(HaveOccurred())
		Expect(data).To(BeEmpty())
		Expect(eof).To(BeTrue())
	})

	DescribeTable("Read serves a committed upload from any offset",
		func(offset int64, length int, want string, wantEOF bool, wantCode server.Code) {
			content := []byte("0123456789")
			up := begin("dev-0001", content, server.CompressionNone)
			send("dev-0001", up, content)
			_, err := svc.Commit(ctx, "dev-0001", up.ID)
			Expect(err).NotTo(HaveOccurred())
			data, eof, got, err := svc.Read(ctx, up.ID, offset, length)
			if wantCode != "" {
				Expect(codeOf(err)).To(Equal(wantCode))
				return
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(string(data)).To(Equal(want))
			Expect(eof).To(Equal(wantEOF))
			Expect(got.ID).To(Equal(up.ID))
		},
		Entry("from the start, all of it", int64(0), 0, "0123456789", true, server.Code("")),
		Entry("from the start, part of it", int64(0), 4, "0123", false, server.Code("")),
		Entry("from the middle to the end", int64(6), 100, "6789", true, server.Code("")),
		Entry("the last byte", int64(9), 1, "9", true, server.Code("")),
		Entry("at the end: nothing, and eof", int64(10), 5, "", true, server.Code("")),
		Entry("past the end", int64(11), 5, "", false, server.CodeMalformed),
		Entry("a negative offset", int64(-1), 5, "", false, server.CodeMalformed),
	)

	It("bounds one Read to MaxFetch whatever length is asked", func() {
		svc2, err := uploads.New(uploads.Config{Dir: filepath.Join(dir, "data"), Store: store, MaxChunk: uploads.DefaultMaxChunk})
		Expect(err).NotTo(HaveOccurred())
		content := bytes.Repeat([]byte{7}, uploads.MaxFetch+10)
		up, _, err := svc2.Begin(ctx, ref("dev-0001"), server.NewUpload{Name: "big", Kind: server.UploadDiagnostic,
			Size: int64(len(content)), SHA256: hexSHA(content)})
		Expect(err).NotTo(HaveOccurred())
		for off := 0; off < len(content); off += uploads.DefaultMaxChunk {
			part := content[off:min(off+uploads.DefaultMaxChunk, len(content))]
			_, err := svc2.Chunk(ctx, "dev-0001", up.ID, int64(off), hexSHA(part), part)
			Expect(err).NotTo(HaveOccurred())
		}
		_, err = svc2.Commit(ctx, "dev-0001", up.ID)
		Expect(err).NotTo(HaveOccurred())
		data, eof, _, err := svc2.Read(ctx, up.ID, 0, 10*uploads.MaxFetch)
		Expect(err).NotTo(HaveOccurred())
		Expect(data).To(HaveLen(uploads.MaxFetch))
		Expect(eof).To(BeFalse())
	})

	It("drops bytes written past the recorded offset before a crash, so a resumed upload is whole", func() {
		content := bytes.Repeat([]byte("abcdefgh"), 3*maxChunk/8)
		up := begin("dev-0001", content, server.CompressionNone)
		first := content[:maxChunk]
		_, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(first), first)
		Expect(err).NotTo(HaveOccurred())
		// The crash: a second chunk reached the file but its offset never
		// reached the store, and half of it is garbage.
		part := filepath.Join(dir, "data", up.ID+".part")
		f, err := os.OpenFile(part, os.O_WRONLY|os.O_APPEND, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.Write(bytes.Repeat([]byte{0xFF}, maxChunk+100))
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())

		// A new process over the same directory and store.
		restarted, err := uploads.New(uploads.Config{Dir: filepath.Join(dir, "data"), Store: store, MaxChunk: maxChunk, MaxSize: maxSize})
		Expect(err).NotTo(HaveOccurred())
		again, _, err := restarted.Begin(ctx, ref("dev-0001"), server.NewUpload{Name: "system.log", Kind: server.UploadLog,
			Size: int64(len(content)), SHA256: hexSHA(content)})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.ID).To(Equal(up.ID))
		Expect(again.Received).To(BeEquivalentTo(maxChunk))
		for off := maxChunk; off < len(content); off += maxChunk {
			chunk := content[off:min(off+maxChunk, len(content))]
			_, err := restarted.Chunk(ctx, "dev-0001", up.ID, int64(off), hexSHA(chunk), chunk)
			Expect(err).NotTo(HaveOccurred())
		}
		_, err = restarted.Commit(ctx, "dev-0001", up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(readAll(up.ID)).To(Equal(content))
	})

	It("writes a chunk at the recorded offset even when unrecorded bytes there already equal it", func() {
		content := bytes.Repeat([]byte{'a'}, 2*maxChunk)
		up := begin("dev-0001", content, server.CompressionNone)
		_, err := svc.Chunk(ctx, "dev-0001", up.ID, 0, hexSHA(content[:maxChunk]), content[:maxChunk])
		Expect(err).NotTo(HaveOccurred())
		// Unrecorded bytes past the offset that happen to equal the next
		// chunk must not count as durable: the store says where we are.
		part := filepath.Join(dir, "data", up.ID+".part")
		f, err := os.OpenFile(part, os.O_WRONLY|os.O_APPEND, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.Write(content[maxChunk:])
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
		next, err := svc.Chunk(ctx, "dev-0001", up.ID, maxChunk, hexSHA(content[maxChunk:]), content[maxChunk:])
		Expect(err).NotTo(HaveOccurred())
		Expect(next).To(BeEquivalentTo(2 * maxChunk))
		got, err := store.GetUpload(ctx, up.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(got.Received).To(BeEquivalentTo(2 * maxChunk))
	})

	It("requires a directory and a store", func() {
		_, err := uploads.New(uploads.Config{Store: store})
		Expect(err).To(HaveOccurred())
		_, err = uploads.New(uploads.Config{Dir: dir})
		Expect(err).To(HaveOccurred())
	})
})
