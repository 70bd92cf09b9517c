//go:build !nopac

package soapclient_test

import (
	"net"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/soapclient"
)

var _ = Describe("PAC helper functions", func() {
	// Wednesday 25 November 2026, 10:30:15 local time; the GMT forms get
	// the same instant in UTC.
	wednesday := time.Date(2026, time.November, 25, 10, 30, 15, 0, time.Local)

	It("runs on the day the table assumes", func() {
		Expect(wednesday.Weekday()).To(Equal(time.Wednesday))
	})

	DescribeTable("behave as the PAC convention says",
		func(expr string, want any) {
			got, err := soapclient.EvalPAC(expr, wednesday)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(BeEquivalentTo(want))
		},
		Entry(nil, `isPlainHostName("www")`, true),
		Entry(nil, `isPlainHostName("www.example.com")`, false),
		Entry(nil, `dnsDomainIs("www.Example.com", ".example.com")`, true),
		Entry(nil, `dnsDomainIs("www.example.org", ".example.com")`, false),
		Entry(nil, `localHostOrDomainIs("www.example.com", "www.example.com")`, true),
		Entry(nil, `localHostOrDomainIs("www", "www.example.com")`, true),
		Entry(nil, `localHostOrDomainIs("www.other.com", "www.example.com")`, false),
		Entry(nil, `dnsDomainLevels("www.example.com")`, 2),
		Entry(nil, `dnsDomainLevels("www")`, 0),
		Entry(nil, `shExpMatch("https://rms.example.com:443/", "https://*.example.com*")`, true),
		Entry(nil, `shExpMatch("a.b", "a?b")`, true),
		Entry("dots are literal", `shExpMatch("axb", "a.b")`, false),
		Entry("anchored", `shExpMatch("xa.b", "a.b")`, false),
		Entry(nil, `dnsResolve("127.0.0.1")`, "127.0.0.1"),
		Entry(nil, `dnsResolve("localhost")`, "127.0.0.1"),
		Entry(nil, `isResolvable("localhost")`, true),
		Entry("an unresolvable name (RFC 2606 .invalid)", `isResolvable("no-such-host.invalid")`, false),
		Entry(nil, `isInNet("10.1.2.3", "10.1.0.0", "255.255.0.0")`, true),
		Entry(nil, `isInNet("10.2.2.3", "10.1.0.0", "255.255.0.0")`, false),
		Entry("a name is resolved first", `isInNet("localhost", "127.0.0.0", "255.0.0.0")`, true),
		Entry(nil, `weekdayRange("WED")`, true),
		Entry(nil, `weekdayRange("MON", "FRI")`, true),
		Entry(nil, `weekdayRange("SAT", "SUN")`, false),
		Entry("wrapping past Saturday", `weekdayRange("FRI", "WED")`, true),
		Entry(nil, `weekdayRange("XYZ")`, false),
		Entry(nil, `dateRange(25)`, true),
		Entry(nil, `dateRange("NOV")`, true),
		Entry(nil, `dateRange(2026)`, true),
		Entry(nil, `dateRange(2025)`, false),
		Entry(nil, `dateRange(1, 15)`, false),
		Entry(nil, `dateRange("OCT", "DEC")`, true),
		Entry("wrapping past December", `dateRange("DEC", "FEB")`, false),
		Entry(nil, `dateRange(20, "NOV", 5, "DEC")`, true),
		Entry(nil, `dateRange(1, "JUN", 2026, 15, "AUG", 2026)`, false),
		Entry(nil, `dateRange("NOV", 2026, "JAN", 2027)`, true),
		Entry(nil, `timeRange(10)`, true),
		Entry(nil, `timeRange(9, 17)`, true),
		Entry("wrapping past midnight", `timeRange(22, 6)`, false),
		Entry(nil, `timeRange(10, 30, 10, 31)`, true),
		Entry(nil, `timeRange(10, 30, 16, 10, 31, 0)`, false),
	)

	It("takes GMT as the zone of the clock", func() {
		utc := wednesday.UTC()
		got, err := soapclient.EvalPAC(`timeRange(`+strconv.Itoa(utc.Hour())+`, "GMT") && weekdayRange("`+[]string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}[utc.Weekday()]+`", "GMT")`, wednesday)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(BeTrue())
	})

	It("myIpAddress gives an IPv4 address", func() {
		got, err := soapclient.EvalPAC(`myIpAddress()`, wednesday)
		Expect(err).NotTo(HaveOccurred())
		Expect(net.ParseIP(got.(string)).To4()).NotTo(BeNil())
	})
})
