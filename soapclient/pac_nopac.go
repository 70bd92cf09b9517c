//go:build nopac

package soapclient

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/sirupsen/logrus"
)

// errNoPAC is what a nopac build says to a pac: proxy setting. Building
// with -tags nopac leaves the JavaScript engine out, which takes about a
// quarter off the agent's resident memory, for sites that give a proxy URL.
var errNoPAC = errors.New("this build has no PAC support (built with -tags nopac); give the proxy as a URL")

type pac struct{}

func newPAC(ProxyConfig, *http.Client, func() time.Time, *logrus.Entry) (*pac, error) {
	return nil, errNoPAC
}

func (*pac) proxyFor(*http.Request) (*url.URL, error) { return nil, errNoPAC }
