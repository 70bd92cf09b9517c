//go:build !nopac

package soapclient

import (
	"context"
	"time"

	"github.com/dop251/goja"
)

// EvalPAC evaluates a JavaScript expression with the PAC helper functions
// defined and the clock stopped at now, so specs can check the helpers
// one by one rather than through a whole script and a proxy.
func EvalPAC(expr string, now time.Time) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultPACTimeout)
	defer cancel()
	vm := &pacVM{rt: goja.New(), ctx: ctx, now: func() time.Time { return now }}
	if err := vm.install(); err != nil {
		return nil, err
	}
	v, err := vm.rt.RunString(expr)
	if err != nil {
		return nil, err
	}
	return v.Export(), nil
}
