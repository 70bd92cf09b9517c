package generated_test

import (
	"encoding/xml"
	"os"
	"reflect"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/fixtures/testenv"
)

var services = map[string]map[string]sample{
	"device":     deviceSamples,
	"management": managementSamples,
}

// wsdlInfo is the part of a WSDL the tests look at.
type wsdlInfo struct {
	Messages []struct {
		Name  string `xml:"name,attr"`
		Parts []struct {
			Element string `xml:"element,attr"`
		} `xml:"part"`
	} `xml:"message"`
	PortType struct {
		Operations []struct {
			Name string `xml:"name,attr"`
		} `xml:"operation"`
	} `xml:"portType"`
}

func readWSDL(service string) wsdlInfo {
	b, err := os.ReadFile(repoPath("wsdl", service+".wsdl"))
	if err != nil {
		panic(err)
	}
	var w wsdlInfo
	if err := xml.Unmarshal(b, &w); err != nil {
		panic(err)
	}
	return w
}

// messageElements lists the element of every WSDL message part, faults included.
func messageElements(service string) []string {
	var names []string
	for _, m := range readWSDL(service).Messages {
		for _, p := range m.Parts {
			names = append(names, strings.TrimPrefix(p.Element, "tns:"))
		}
	}
	sort.Strings(names)
	return compact(names)
}

func operations(service string) []string {
	var names []string
	for _, op := range readWSDL(service).PortType.Operations {
		names = append(names, op.Name)
	}
	return names
}

func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func sortedKeys(m map[string]sample) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clearXMLName zeroes the top-level XMLName that Unmarshal fills in, so a
// decoded value compares equal to one built by hand.
func clearXMLName(v any) {
	f := reflect.ValueOf(v).Elem().FieldByName("XMLName")
	if f.IsValid() {
		f.Set(reflect.Zero(f.Type()))
	}
}

func roundTripEntries() []TableEntry {
	var entries []TableEntry
	for _, service := range []string{"device", "management"} {
		samples := services[service]
		for _, name := range sortedKeys(samples) {
			s := samples[name]
			entries = append(entries,
				Entry(service+" "+name+" (full)", service, s.full),
				Entry(service+" "+name+" (zero values)", service, s.zero),
			)
		}
	}
	return entries
}

var _ = Describe("generated types", func() {
	It("have a full and a zero-value sample for every message element of both WSDLs", func() {
		for service, samples := range services {
			Expect(sortedKeys(samples)).To(Equal(messageElements(service)), service)
		}
	})

	DescribeTable("marshal to XML that the XSD accepts and unmarshal back unchanged",
		Label("interop"),
		func(service string, value any) {
			xmllint := testenv.RequireTool("xmllint")

			out, err := xml.Marshal(value)
			Expect(err).NotTo(HaveOccurred())

			msg, err := validate(xmllint, service, out)
			Expect(err).NotTo(HaveOccurred(), "xmllint: %s\ndocument: %s", msg, out)

			back := reflect.New(reflect.TypeOf(value).Elem()).Interface()
			Expect(xml.Unmarshal(out, back)).To(Succeed())
			clearXMLName(back)
			Expect(back).To(Equal(value), "document: %s", out)
		},
		roundTripEntries(),
	)

	It("write no element for false, 0 or an empty list (gowsdl tags every field omitempty)", func() {
		out, err := xml.Marshal(deviceSamples["HeartbeatResponse"].zero)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).NotTo(ContainSubstring("instructionsPending"))
		Expect(string(out)).NotTo(ContainSubstring("nextIntervalSeconds"))
	})

	It("qualify child elements through the default namespace of the wrapper element", func() {
		out, err := xml.Marshal(deviceSamples["Heartbeat"].full)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).To(HavePrefix(`<Heartbeat xmlns="urn:rms:device:v1"><messageId>`))
		Expect(string(out)).To(ContainSubstring(`<metric name="cpu" value="12.5" unit="%"></metric>`))
	})
})
