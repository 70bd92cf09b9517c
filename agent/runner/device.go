package runner

import (
	"context"
	"errors"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/rmsproject/rms/agent"
	"github.com/rmsproject/rms/soapclient"
)

// deviceLoop holds one device's loops and what they share.
type deviceLoop struct {
	r   *Runner
	dev Device
	log *logrus.Entry

	kick     chan struct{} // wakes the sender after a Put
	rescheme chan struct{} // wakes the poller after an interval change

	mu        sync.Mutex
	every     time.Duration
	lastProps map[string]string
	lastUnits map[string]string
	sinceFull int           // heartbeats since the last one that carried everything
	deferred  []agent.Event // events that ride on the next heartbeat
}

func newDeviceLoop(r *Runner, d Device) *deviceLoop {
	return &deviceLoop{r: r, dev: d, log: r.log.WithField("device", d.ID), kick: make(chan struct{}, 1),
		rescheme: make(chan struct{}, 1), every: d.Interval, lastUnits: map[string]string{}}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (d *deviceLoop) interval() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.every
}

// MinInterval and MaxInterval bound what a server or an instruction may
// set: faster would load the network, slower would look like an outage.
const (
	MinInterval = time.Second
	MaxInterval = 24 * time.Hour
)

func (d *deviceLoop) setInterval(every time.Duration) {
	every = min(max(every, MinInterval), MaxInterval)
	d.mu.Lock()
	changed := d.every != every
	d.every = every
	d.mu.Unlock()
	if changed {
		signal(d.rescheme)
	}
}

// poll reads the adapter every interval and queues what it saw.
func (d *deviceLoop) poll(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.rescheme:
			t.Reset(d.interval())
			continue
		case <-t.C:
		}
		d.pollOnce(ctx)
		t.Reset(d.interval())
	}
}

func (d *deviceLoop) pollOnce(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, min(d.interval(), 30*time.Second))
	sample, err := d.dev.Adapter.Poll(pctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		d.log.WithError(err).Warn("adapter poll failed; reporting the device offline")
		sample = agent.Sample{State: "offline"}
	}
	var now []agent.Event
	for _, e := range sample.Events {
		if d.r.immediate(e) {
			now = append(now, e)
		} else {
			d.deferred = append(d.deferred, e)
		}
	}
	for _, batch := range alarmBatches(now) {
		d.put(ctx, agent.KindAlarms, "ReportAlarms", alarmsRequest(batch))
	}
	d.put(ctx, agent.KindHeartbeat, "Heartbeat", d.heartbeat(sample))
	for _, batch := range alarmBatches(d.deferred) {
		d.put(ctx, agent.KindAlarms, "ReportAlarms", alarmsRequest(batch))
	}
	d.deferred = nil
}

// FullEvery is how many heartbeats pass between two that carry every
// property and unit: a heartbeat the outbox coalesced away under pressure
// may have carried a change, and this bounds how long the server misses it.
const FullEvery = 60

// heartbeat builds the request: every metric, but a unit only when it
// changed and properties only when they changed (the server merges them),
// which keeps a steady-state heartbeat small.
func (d *deviceLoop) heartbeat(s agent.Sample) *soapclient.Heartbeat {
	if d.sinceFull++; d.sinceFull >= FullEvery {
		d.sinceFull = 0
		d.lastProps, d.lastUnits = nil, map[string]string{}
	}
	state := soapclient.HealthState(s.State)
	if state == "" {
		state = soapclient.HealthStateOk
	}
	hb := &soapclient.Heartbeat{State: &state}
	for _, m := range s.Metrics {
		out := &soapclient.Metric{Name: m.Name, Value: m.Value}
		if d.lastUnits[m.Name] != m.Unit {
			out.Unit = m.Unit
			d.lastUnits[m.Name] = m.Unit
		}
		hb.Metric = append(hb.Metric, out)
	}
	names := make([]string, 0, len(s.Properties))
	for k, v := range s.Properties {
		if old, ok := d.lastProps[k]; !ok || old != v {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		hb.Property = append(hb.Property, &soapclient.NameValue{Name: k, Value: s.Properties[k]})
	}
	if s.Properties != nil {
		d.lastProps = maps.Clone(s.Properties)
	}
	return hb
}

// Alarm batch bounds, well inside what the server takes in one message
// (100 alarms, 64 KiB signed): a message it refused for size would be lost.
const (
	maxAlarmsPerMessage = 50
	maxAlarmBytes       = 24 << 10
)

// alarmBatches splits events into messages the server will accept.
func alarmBatches(events []agent.Event) [][]agent.Event {
	var out [][]agent.Event
	var cur []agent.Event
	size := 0
	for _, e := range events {
		n := 256 + len(e.Code) + len(e.Text) // element names and times, roughly
		for k, v := range e.Context {
			n += 64 + len(k) + len(v)
		}
		if len(cur) > 0 && (len(cur) == maxAlarmsPerMessage || size+n > maxAlarmBytes) {
			out, cur, size = append(out, cur), nil, 0
		}
		cur, size = append(cur, e), size+n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func alarmsRequest(events []agent.Event) *soapclient.ReportAlarms {
	req := &soapclient.ReportAlarms{}
	for _, e := range events {
		sev := soapclient.Severity(e.Severity)
		text := e.Text
		if text == "" {
			text = e.Code // the schema wants some text
		}
		al := &soapclient.Alarm{Code: e.Code, Severity: &sev, Text: text, RaisedAt: soapclient.NewDateTime(e.Time)}
		if e.Cleared {
			al.ClearedAt = soapclient.NewDateTime(e.Time)
		}
		keys := make([]string, 0, len(e.Context))
		for k := range e.Context {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			al.Context = append(al.Context, &soapclient.NameValue{Name: k, Value: e.Context[k]})
		}
		req.Alarm = append(req.Alarm, al)
	}
	return req
}

// put stores a request in the outbox and wakes the sender. A full outbox
// is reported by the outbox itself; the sample is not taken (new data is
// refused rather than old data lost).
func (d *deviceLoop) put(ctx context.Context, kind agent.Kind, op string, req any) {
	m, err := newMessage(d.dev.ID, kind, op, req, d.r.cfg.Now())
	if err == nil {
		_, err = d.r.cfg.Outbox.Put(ctx, m)
	}
	if err != nil {
		if ctx.Err() == nil {
			d.log.WithError(err).WithField("op", op).Error("could not queue a message")
		}
		return
	}
	signal(d.kick)
}

func (d *deviceLoop) queueAudit(e agent.AuditEvent) {
	outcome := soapclient.AuditOutcome(e.Outcome)
	req := &soapclient.ReportAuditEvents{Event: []*soapclient.AuditEvent{{Sequence: int64(e.Seq),
		Time: soapclient.NewDateTime(e.Time), Actor: e.Actor, Action: e.Action, Outcome: &outcome,
		Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash}}}
	d.put(context.Background(), agent.KindAudit, "ReportAuditEvents", req)
}

// send drains the device's outbox in order: a message is deleted only once
// the server acknowledged it; on a retryable failure the same message is
// tried again after a backoff.
func (d *deviceLoop) send(ctx context.Context) {
	b := &Backoff{Min: d.r.cfg.MinBackoff, Max: d.r.cfg.MaxBackoff}
	for ctx.Err() == nil {
		pending, err := d.r.cfg.Outbox.Pending(d.dev.ID, 1)
		var bad *agent.CorruptError
		if errors.As(err, &bad) {
			// One unreadable record must not hold back every message
			// behind it: it goes, and the audit trail says so.
			d.log.WithError(err).Error("discarding an unreadable outbox record")
			d.r.audit(d.dev.ID, "agent", "message.corrupt", "failure", err.Error())
			if dErr := d.r.cfg.Outbox.Discard(d.dev.ID, bad.Seq); dErr == nil {
				continue
			}
		}
		if err != nil {
			d.log.WithError(err).Error("outbox unreadable")
			sleep(ctx, b.Next(0))
			continue
		}
		if len(pending) == 0 {
			select {
			case <-ctx.Done():
			case <-d.kick:
			}
			continue
		}
		m := pending[0]
		resp, err := sendMessage(ctx, d.dev.Client, m)
		if err == nil || permanent(err) {
			if err != nil {
				d.log.WithError(err).WithField("op", m.Operation).Error("server refused a message for good; it is dropped")
				d.r.audit(d.dev.ID, "agent", "message.refused", "failure", m.Operation+": "+err.Error())
			}
			if aErr := d.r.cfg.Outbox.Ack(m.Seq); aErr != nil {
				d.log.WithError(aErr).Error("outbox ack failed")
			}
			b.Reset()
			if hb, ok := resp.(*soapclient.HeartbeatResponse); ok && hb.NextIntervalSeconds > 0 {
				d.setInterval(time.Duration(hb.NextIntervalSeconds) * time.Second)
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		_, after := soapclient.Retryable(err)
		wait := b.Next(after)
		d.log.WithError(err).WithFields(logrus.Fields{"op": m.Operation, "retry_in": wait.Round(time.Second)}).Warn("send failed")
		sleep(ctx, wait)
	}
}

// permanent reports whether retrying the message can never help: the
// server, in a fault it signed, refused its content. Refusals of the
// device itself (revoked, unregistered, signature or clock trouble) are not
// permanent: an operator can fix them, and the data must still be there
// when they do. An unsigned fault proves nothing (a proxy could have sent
// it), so it is retried.
func permanent(err error) bool {
	var f *soapclient.Fault
	if !errors.As(err, &f) || !f.Verified {
		return false
	}
	switch f.Code {
	case "MALFORMED", "TOO_LARGE", "CONFLICT", "NOT_FOUND":
		return true
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
