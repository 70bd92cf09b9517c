package soapapi

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/rmsproject/rms/wsdl"
	"github.com/rmsproject/rms/xsd"
)

// contract is one service's WSDL and the schema it imports.
type contract struct {
	wsdl     []byte
	xsdName  string // the name served at ?xsd=NAME
	xsd      []byte
	location string // the soap:address in the committed WSDL
	import_  string // the schemaLocation in the committed WSDL
}

func loadContract(wsdlFile, xsdFile, location string) (*contract, error) {
	w, err := fs.ReadFile(wsdl.Files, wsdlFile)
	if err != nil {
		return nil, fmt.Errorf("soapapi: %w", err)
	}
	x, err := fs.ReadFile(xsd.Files, xsdFile)
	if err != nil {
		return nil, fmt.Errorf("soapapi: %w", err)
	}
	c := &contract{wsdl: w, xsd: x, xsdName: strings.TrimSuffix(xsdFile, ".xsd"),
		location: location, import_: "../xsd/" + xsdFile}
	for _, must := range []string{`location="` + c.location + `"`, `schemaLocation="` + c.import_ + `"`} {
		if !bytes.Contains(w, []byte(must)) {
			return nil, fmt.Errorf("soapapi: %s no longer contains %s", wsdlFile, must)
		}
	}
	return c, nil
}

// serve answers GET <endpoint>?wsdl and ?xsd=NAME. The WSDL's address and
// schema import are rewritten to the address the client used, so a client
// that fetched https://rms.example:443/soap/device?wsdl posts to, and
// resolves its schema at, that same host.
func (c *contract) serve(w http.ResponseWriter, r *http.Request, base string) bool {
	q := r.URL.Query()
	switch {
	case q.Has("wsdl"):
		doc := bytes.Replace(c.wsdl, []byte(`location="`+c.location+`"`), []byte(`location="`+xmlAttr(base)+`"`), 1)
		doc = bytes.Replace(doc, []byte(`schemaLocation="`+c.import_+`"`), []byte(`schemaLocation="`+xmlAttr(base+"?xsd="+c.xsdName)+`"`), 1)
		writeXML(w, http.StatusOK, doc)
	case q.Has("xsd"):
		if q.Get("xsd") != c.xsdName {
			http.Error(w, "no such schema; this endpoint serves ?xsd="+c.xsdName, http.StatusNotFound)
			return true
		}
		writeXML(w, http.StatusOK, c.xsd)
	default:
		return false
	}
	return true
}

// endpointURL is the URL the client addressed: its Host header (which a
// load balancer passes on), with the scheme it connected with.
func endpointURL(r *http.Request, publicURL string) string {
	if publicURL != "" {
		return strings.TrimSuffix(publicURL, "/") + r.URL.Path
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path}
	return u.String()
}

func xmlAttr(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '<':
			b.WriteString("&lt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
