package soapapi

import (
	"context"
	"io"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/server"
	"github.com/rmsproject/rms/wssec"
)

// managementCall is one operator request.
type managementCall struct {
	op     string
	user   *server.User
	req    *wssec.UsernameRequest
	target string
}

type managementHandler func(a *API, ctx context.Context, c *managementCall) (any, error)

// manage adapts a typed management handler: decode, then serve.
func manage[Req any](fn func(a *API, ctx context.Context, c *managementCall, req *Req) (any, error)) managementHandler {
	return func(a *API, ctx context.Context, c *managementCall) (any, error) {
		req := new(Req)
		if err := c.req.DecodePayload(req); err != nil {
			return nil, server.Errorf(server.CodeMalformed, "%s does not match the schema", c.op)
		}
		return fn(a, ctx, c, req)
	}
}

func (a *API) serveManagement(w http.ResponseWriter, r *http.Request) {
	c := &managementCall{op: "unknown"}
	a.exchange(w, r, exchange{
		service: "management", title: "ManagementService", contract: a.management,
		handle: func(r *http.Request) ([]byte, error) {
			payload, err := a.managementRequest(r, c)
			if err != nil {
				return nil, err
			}
			return envelope(payload)
		},
		op:     func() string { return c.op },
		fault:  func(err error) []byte { return faultEnvelope(nsManagement, err) },
		audit:  func(ctx context.Context, err error) { a.auditManagement(ctx, c, err) },
		fields: func() logrus.Fields { return logrus.Fields{"op": c.op} },
	})
}

func (a *API) managementRequest(r *http.Request, c *managementCall) (any, error) {
	ctx := r.Context()
	if r.TLS == nil {
		return nil, server.Errorf(server.CodeForbidden, "the management endpoint is served over TLS only")
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, int64(a.cfg.MaxManagementBytes)+1))
	if err != nil {
		return nil, server.Errorf(server.CodeMalformed, "request body could not be read")
	}
	if len(raw) > a.cfg.MaxManagementBytes {
		return nil, server.Errorf(server.CodeTooLarge, "request is larger than %d bytes", a.cfg.MaxManagementBytes)
	}
	req, err := wssec.ReadUsernameToken(raw, wssec.Limits{MaxBytes: a.cfg.MaxManagementBytes})
	if err != nil {
		err = fromWSSec(err)
		if server.CodeOf(err) == server.CodeBadSignature {
			// For an operator, missing credentials are a refusal.
			err = server.Errorf(server.CodeForbidden, "%s", server.MessageOf(err))
		}
		return nil, err
	}
	c.req = req
	if req.Payload.Space == nsManagement {
		if _, ok := managementOps[req.Payload.Local]; ok {
			c.op = req.Payload.Local
		}
	}
	user, err := a.cfg.Auth.Authenticate(ctx, req.Username, req.Password)
	if err != nil {
		c.user = &server.User{Name: req.Username}
		return nil, err
	}
	c.user = user
	h, ok := managementOps[c.op]
	if !ok {
		return nil, server.Errorf(server.CodeMalformed, "unknown operation {%s}%s", req.Payload.Space, req.Payload.Local)
	}
	if action := soapAction(r.Header.Get("SOAPAction")); action != "" && action != nsManagement+"/"+c.op {
		return nil, server.Errorf(server.CodeMalformed, "SOAPAction names a different operation than the body")
	}
	if err := a.cfg.Auth.Authorize(user, c.op); err != nil {
		return nil, err
	}
	return h(a, ctx, c)
}

func (a *API) auditManagement(ctx context.Context, c *managementCall, err error) {
	actor := "user:unauthenticated"
	if c.user != nil && c.user.Name != "" {
		actor = "user:" + c.user.Name
	}
	a.record(ctx, server.AuditEntry{Actor: actor, Action: "manage." + c.op, Target: c.target}, err)
}
