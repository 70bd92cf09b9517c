package main

import (
	"context"
	"flag"
	"strconv"

	"github.com/rmsproject/rms/generated/management"
)

var healthStates = []management.HealthState{management.HealthStateOk, management.HealthStateWarning,
	management.HealthStateError, management.HealthStateMaintenance, management.HealthStateOffline}

func devicesCommand() *command {
	return &command{
		name:    "devices",
		summary: "List devices, show one, and read its heartbeat history",
		subs: []*command{
			devicesListVerb().command("devices"),
			devicesShowVerb().command("devices"),
			devicesHistoryVerb().command("devices"),
		},
	}
}

var deviceColumns = columns[*management.DeviceSummary]{
	header: []string{"ID", "NAME", "CUSTOMER", "SITE", "MODEL", "STATE", "LAST SEEN", "ALARMS"},
	row: func(d *management.DeviceSummary) []string {
		return []string{d.DeviceId, d.DisplayName, d.Customer, d.Site, d.Model, str(d.State), when(d.LastSeen),
			strconv.Itoa(int(d.OpenAlarms))}
	},
}

func devicesListVerb() remoteVerb {
	return remoteVerb{
		name:     "list",
		summary:  "List the devices you may see",
		synopsis: "[--customer C] [--site S] [--state STATE] [--search TEXT] [--limit N] [--page-token T] [--all]",
		setup: func(fs *flag.FlagSet) prepare {
			customer := fs.String("customer", "", "only devices of this `customer`")
			site := fs.String("site", "", "only devices at this `site`")
			state := enumFlag(fs, "state", "only devices in this `state`", healthStates...)
			search := fs.String("search", "", "only devices whose id or name contains `text`")
			pg := addPaging(fs)
			return func(args []string) (call, error) {
				if err := wantArgs(args); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					return list(ctx, s, pg, deviceColumns, func(ctx context.Context, token string) ([]*management.DeviceSummary, string, error) {
						r, err := s.m.ListDevices(ctx, &management.ListDevices{Customer: *customer, Site: *site, State: state.val,
							Search: *search, Limit: int32(pg.limit), PageToken: token})
						if err != nil {
							return nil, "", err
						}
						return r.Device, r.NextPageToken, nil
					})
				}, nil
			}
		},
	}
}

func devicesShowVerb() remoteVerb {
	return remoteVerb{
		name:     "show",
		summary:  "Show one device with its current state, metrics and properties",
		synopsis: "ID",
		setup: func(fs *flag.FlagSet) prepare {
			return func(args []string) (call, error) {
				if err := wantArgs(args, "ID"); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					r, err := s.m.GetDevice(ctx, &management.GetDevice{DeviceId: args[0]})
					if err != nil {
						return err
					}
					d := r.Device
					if d == nil {
						d = &management.Device{}
					}
					sum := d.Summary
					if sum == nil {
						sum = &management.DeviceSummary{}
					}
					return s.show(d, [][2]string{
						{"ID", sum.DeviceId}, {"Name", sum.DisplayName}, {"Customer", sum.Customer}, {"Site", sum.Site},
						{"Model", sum.Model}, {"State", str(sum.State)}, {"Last seen", when(sum.LastSeen)},
						{"Open alarms", strconv.Itoa(int(sum.OpenAlarms))}, {"Gateway", d.GatewayId},
						{"Agent version", d.AgentVersion}, {"Certificate", d.CertificateSubject},
						{"Certificate expires", when(d.CertificateExpiresAt)},
						{"Heartbeat interval", seconds(d.HeartbeatIntervalSeconds)},
					}, metricSection(d.Metric), propertySection("Properties", d.Property))
				}, nil
			}
		},
	}
}

var historyColumns = columns[*management.HistoryEntry]{
	header: []string{"TIME", "STATE", "METRICS", "PROPERTIES"},
	row: func(h *management.HistoryEntry) []string {
		return []string{when(h.Time), str(h.State), metricsText(h.Metric), nameValuesText(h.Property)}
	},
}

func devicesHistoryVerb() remoteVerb {
	return remoteVerb{
		name:     "history",
		summary:  "List a device's heartbeats, newest first",
		synopsis: "ID [--from TIME] [--to TIME] [--limit N] [--page-token T] [--all]",
		setup: func(fs *flag.FlagSet) prepare {
			from := timeFlag(fs, "from", "only heartbeats at or after this `time`")
			to := timeFlag(fs, "to", "only heartbeats before this `time`")
			pg := addPaging(fs)
			return func(args []string) (call, error) {
				if err := wantArgs(args, "ID"); err != nil {
					return nil, err
				}
				if err := checkRange(from, to); err != nil {
					return nil, err
				}
				return func(ctx context.Context, s *session) error {
					return list(ctx, s, pg, historyColumns, func(ctx context.Context, token string) ([]*management.HistoryEntry, string, error) {
						r, err := s.m.GetDeviceHistory(ctx, &management.GetDeviceHistory{DeviceId: args[0], From: from.xsd(), To: to.xsd(),
							Limit: int32(pg.limit), PageToken: token})
						if err != nil {
							return nil, "", err
						}
						return r.Entry, r.NextPageToken, nil
					})
				}, nil
			}
		},
	}
}

func seconds(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n)) + "s"
}

func metricSection(ms []*management.Metric) section {
	sec := section{title: "Metrics", header: []string{"NAME", "VALUE", "UNIT"}}
	for _, m := range ms {
		if m != nil {
			sec.rows = append(sec.rows, []string{m.Name, formatFloat(m.Value), m.Unit})
		}
	}
	return sec
}

func propertySection(title string, nvs []*management.NameValue) section {
	sec := section{title: title, header: []string{"NAME", "VALUE"}}
	for _, nv := range nvs {
		if nv != nil {
			sec.rows = append(sec.rows, []string{nv.Name, nv.Value})
		}
	}
	return sec
}

// metricsText and nameValuesText fit a list into one table cell.
func metricsText(ms []*management.Metric) string {
	var out string
	for _, m := range ms {
		if m == nil {
			continue
		}
		if out != "" {
			out += " "
		}
		out += m.Name + "=" + formatFloat(m.Value) + m.Unit
	}
	return out
}

func nameValuesText(nvs []*management.NameValue) string {
	var out string
	for _, nv := range nvs {
		if nv == nil {
			continue
		}
		if out != "" {
			out += " "
		}
		out += nv.Name + "=" + nv.Value
	}
	return out
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
