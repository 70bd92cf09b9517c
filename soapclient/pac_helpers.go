//go:build !nopac

package soapclient

import (
	"net"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// pacStringHelpers are the PAC functions that only look at strings. They
// are JavaScript because the PAC convention defines them in JavaScript
// terms (shExpMatch's globbing, case folding).
const pacStringHelpers = `
function isPlainHostName(host) { return String(host).indexOf(".") < 0; }
function dnsDomainIs(host, domain) {
	host = String(host).toLowerCase(); domain = String(domain).toLowerCase();
	return host.length >= domain.length && host.substring(host.length - domain.length) === domain;
}
function localHostOrDomainIs(host, hostdom) {
	host = String(host).toLowerCase(); hostdom = String(hostdom).toLowerCase();
	return host === hostdom || (host.indexOf(".") < 0 && hostdom.split(".")[0] === host);
}
function isResolvable(host) { return dnsResolve(host) !== null; }
function dnsDomainLevels(host) { return String(host).split(".").length - 1; }
function shExpMatch(str, shexp) {
	var re = String(shexp).replace(/[.+^${}()|[\]\\\/]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
	return new RegExp("^" + re + "$").test(String(str));
}
`

// install defines the PAC helper functions in vm's runtime. Those that
// need DNS or the clock are Go: DNS lookups honour the evaluation's
// deadline (goja cannot interrupt a Go call), and the clock is the
// client's, so tests choose the day and hour.
func (vm *pacVM) install() error {
	for name, f := range map[string]func(goja.FunctionCall) goja.Value{
		"dnsResolve":   vm.dnsResolve,
		"isInNet":      vm.isInNet,
		"myIpAddress":  vm.myIPAddress,
		"weekdayRange": vm.weekdayRange,
		"dateRange":    vm.dateRange,
		"timeRange":    vm.timeRange,
	} {
		if err := vm.rt.Set(name, f); err != nil {
			return err
		}
	}
	_, err := vm.rt.RunString(pacStringHelpers)
	return err
}

// resolve returns host's IPv4 address (PAC predates IPv6 and scripts
// compare against IPv4 masks), or any address, or nil.
func (vm *pacVM) resolve(host string) net.IP {
	if ip := net.ParseIP(host); ip != nil {
		return ip
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(vm.ctx, host)
	if err != nil || len(addrs) == 0 {
		return nil
	}
	for _, a := range addrs {
		if v4 := a.IP.To4(); v4 != nil {
			return v4
		}
	}
	return addrs[0].IP
}

func (vm *pacVM) dnsResolve(call goja.FunctionCall) goja.Value {
	if ip := vm.resolve(call.Argument(0).String()); ip != nil {
		return vm.rt.ToValue(ip.String())
	}
	return goja.Null()
}

func (vm *pacVM) isInNet(call goja.FunctionCall) goja.Value {
	ip := vm.resolve(call.Argument(0).String()).To4()
	pattern := net.ParseIP(call.Argument(1).String()).To4()
	mask := net.ParseIP(call.Argument(2).String()).To4()
	if ip == nil || pattern == nil || mask == nil {
		return vm.rt.ToValue(false)
	}
	m := net.IPMask(mask)
	return vm.rt.ToValue(ip.Mask(m).Equal(pattern.Mask(m)))
}

// myIPAddress reads the interfaces rather than opening a socket to learn
// the outbound address: the agent opens no socket it does not need.
func (vm *pacVM) myIPAddress(goja.FunctionCall) goja.Value {
	ifaces, _ := net.Interfaces()
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return vm.rt.ToValue(n.IP.String())
			}
		}
	}
	return vm.rt.ToValue("127.0.0.1")
}

// clockArgs splits a trailing "GMT" off the arguments and returns the
// current time in the zone it asks for.
func (vm *pacVM) clockArgs(call goja.FunctionCall) ([]goja.Value, time.Time) {
	args, now := call.Arguments, vm.now()
	if n := len(args); n > 0 && strings.EqualFold(args[n-1].String(), "GMT") {
		return args[:n-1], now.UTC()
	}
	return args, now.Local()
}

// inRange is lo <= v <= hi, wrapping around when lo > hi (FRI to MON,
// NOV to FEB, 22:00 to 06:00).
func inRange(v, lo, hi int) bool {
	if lo <= hi {
		return lo <= v && v <= hi
	}
	return v >= lo || v <= hi
}

var pacWeekdays = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

// weekdayRange(wd1 [, wd2] [, "GMT"]).
func (vm *pacVM) weekdayRange(call goja.FunctionCall) goja.Value {
	args, now := vm.clockArgs(call)
	if len(args) == 0 || len(args) > 2 {
		return vm.rt.ToValue(false)
	}
	lo, ok1 := pacWeekdays[strings.ToUpper(args[0].String())]
	hi, ok2 := lo, true
	if len(args) == 2 {
		hi, ok2 = pacWeekdays[strings.ToUpper(args[1].String())]
	}
	return vm.rt.ToValue(ok1 && ok2 && inRange(int(now.Weekday()), lo, hi))
}

var pacMonths = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}

// dateRange accepts the forms of the PAC convention: one value (a day
// 1–31, a month name or a four-digit year), or a range of two, four or six
// values whose halves name the same parts (day, month, year in that
// order), e.g. dateRange(1, 15), dateRange("JAN", "MAR"),
// dateRange(1, "JUN", 2026, 15, "AUG", 2026).
func (vm *pacVM) dateRange(call goja.FunctionCall) goja.Value {
	args, now := vm.clockArgs(call)
	const day, month, year = 1, 2, 4 // parts, as bits
	type date struct{ parts, day, month, year int }
	parse := func(vals []goja.Value) (date, bool) {
		var d date
		for _, v := range vals {
			if m, ok := pacMonths[strings.ToUpper(v.String())]; ok && d.parts&month == 0 {
				d.parts, d.month = d.parts|month, m
				continue
			}
			n := int(v.ToInteger())
			switch {
			case n >= 1 && n <= 31 && d.parts&(day|month|year) == 0:
				d.parts, d.day = d.parts|day, n
			case n > 31 && d.parts&year == 0:
				d.parts, d.year = d.parts|year, n
			default:
				return d, false
			}
		}
		return d, true
	}
	var from, to date
	var ok1, ok2 bool
	switch len(args) {
	case 1:
		from, ok1 = parse(args)
		to, ok2 = from, ok1
	case 2, 4, 6:
		from, ok1 = parse(args[:len(args)/2])
		to, ok2 = parse(args[len(args)/2:])
	}
	if !ok1 || !ok2 || from.parts != to.parts {
		return vm.rt.ToValue(false)
	}
	// Compare only the named parts, as one number ordered year, month, day.
	key := func(d date) int {
		k := 0
		if d.parts&year != 0 {
			k += d.year * 10000
		}
		if d.parts&month != 0 {
			k += d.month * 100
		}
		if d.parts&day != 0 {
			k += d.day
		}
		return k
	}
	today := key(date{from.parts, now.Day(), int(now.Month()), now.Year()})
	lo, hi := key(from), key(to)
	if from.parts&year != 0 {
		return vm.rt.ToValue(lo <= today && today <= hi)
	}
	return vm.rt.ToValue(inRange(today, lo, hi))
}

// timeRange(hour), timeRange(h1, h2), timeRange(h1, m1, h2, m2) or
// timeRange(h1, m1, s1, h2, m2, s2), each with an optional "GMT"; a range
// includes its end to the second and wraps past midnight.
func (vm *pacVM) timeRange(call goja.FunctionCall) goja.Value {
	args, now := vm.clockArgs(call)
	n := make([]int, len(args))
	for i, a := range args {
		n[i] = int(a.ToInteger())
	}
	secs := func(hms ...int) int {
		s := 0
		for i, unit := range []int{3600, 60, 1}[:len(hms)] {
			s += hms[i] * unit
		}
		return s
	}
	t := secs(now.Hour(), now.Minute(), now.Second())
	switch len(n) {
	case 1:
		return vm.rt.ToValue(now.Hour() == n[0])
	case 2, 4, 6:
		half := len(n) / 2
		return vm.rt.ToValue(inRange(t, secs(n[:half]...), secs(n[half:]...)))
	}
	return vm.rt.ToValue(false)
}
