package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rmsproject/rms/generated/management"
	"github.com/rmsproject/rms/soapclient"
)

var (
	uploadKinds  = []management.UploadKind{management.UploadKindLog, management.UploadKindAudit, management.UploadKindDiagnostic}
	uploadStates = []management.UploadState{management.UploadStateReceiving, management.UploadStateCommitted, management.UploadStateFailed}
)

func uploadsCommand() *command {
	return &command{
		name:    "uploads",
		summary: "List files devices uploaded and fetch them",
		subs: []*command{
			uploadsListVerb().command("uploads"),
			uploadsFetchVerb().command("uploads"),
		},
	}
}

var uploadColumns = columns[*management.Upload]{
	header: []string{"ID", "DEVICE", "NAME", "KIND", "STATE", "SIZE", "CREATED", "COMMITTED"},
	row: func(u *management.Upload) []string {
		return []string{u.UploadId, u.DeviceId, u.Name, str(u.Kind), str(u.State), strconv.FormatInt(u.Size, 10),
			when(u.CreatedAt), when(u.CommittedAt)}
	},
}

func uploadsListVerb() remoteVerb {
	return remoteVerb{
		name:     "list",
		summary:  "List uploaded files, newest first",
		synopsis: "[--device ID] [--kind KIND] [--state STATE] [--limit N] [--page-token T] [--all]",
		setup: func(fs *flag.FlagSet) prepare {
			device := fs.String("device", "", "only uploads of this device `id`")
			kind := enumFlag(fs, "kind", "only uploads of this `kind`", uploadKinds...)
			state := enumFlag(fs, "state", "only uploads in this `state`", uploadStates...)
			pg := addPaging(fs)
			return func(args []string) (call, error) {
				if err := wantArgs(args); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					return list(ctx, s, pg, uploadColumns, func(ctx context.Context, token string) ([]*management.Upload, string, error) {
						r, err := s.m.ListUploads(ctx, &management.ListUploads{DeviceId: *device, Kind: kind.val, State: state.val,
							Limit: int32(pg.limit), PageToken: token})
						if err != nil {
							return nil, "", err
						}
						return r.Upload, r.NextPageToken, nil
					})
				}, nil
			}
		},
	}
}

func uploadsFetchVerb() remoteVerb {
	return remoteVerb{
		name:     "fetch",
		summary:  "Download a committed upload (decompressed) to stdout or a file",
		synopsis: "ID [-o FILE]",
		details: "With -o the file appears only once the whole upload has arrived; a failed\n" +
			"fetch leaves no partial file behind.",
		raw: true,
		setup: func(fs *flag.FlagSet) prepare {
			output := fs.String("o", "", "write to this `file` instead of stdout")
			return func(args []string) (call, error) {
				if err := wantArgs(args, "ID"); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					if *output == "" {
						return fetchUpload(ctx, s.m, args[0], s.stdout)
					}
					return writeFileAtomic(*output, func(w io.Writer) error { return fetchUpload(ctx, s.m, args[0], w) })
				}, nil
			}
		},
	}
}

// fetchUpload copies the upload to w, one FetchUpload per server-sized
// part (the server picks the largest part that fits a response), until
// the server says it is the end.
func fetchUpload(ctx context.Context, m *soapclient.Management, id string, w io.Writer) error {
	for offset := int64(0); ; {
		r, err := m.FetchUpload(ctx, &management.FetchUpload{UploadId: id, Offset: offset})
		if err != nil {
			return err
		}
		data, err := soapclient.DecodeBase64Binary(r.Data)
		if err != nil {
			return fmt.Errorf("the server sent invalid base64 at offset %d: %w", offset, err)
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		if r.Eof {
			return nil
		}
		// Without progress the loop would never end.
		if len(data) == 0 {
			return fmt.Errorf("the server sent no data at offset %d and no end of file", offset)
		}
		offset += int64(len(data))
	}
}

// writeFileAtomic writes path through a temporary file beside it, renamed
// into place only when write succeeded, so a reader never mistakes half a
// log for the whole one. The file is private (0600): uploads are device
// logs and diagnostics.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
