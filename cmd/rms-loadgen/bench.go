package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmsproject/rms/soapclient"
	"github.com/rmsproject/rms/wssec/pki"
)

type benchConfig struct {
	common
	requests    int
	concurrency int
	rate        float64
	metrics     int
	json        bool
}

func benchFlags(fs *flag.FlagSet) *benchConfig {
	c := &benchConfig{}
	c.common.flags(fs, 1000)
	fs.IntVar(&c.requests, "requests", 50000, "heartbeats to pre-sign and send (each is unique: the server refuses replays)")
	fs.IntVar(&c.concurrency, "concurrency", 128, "requests in flight")
	fs.Float64Var(&c.rate, "rate", 0, "heartbeats per second to offer (0: as fast as answered)")
	fs.IntVar(&c.metrics, "metrics", 8, "metrics per heartbeat")
	fs.BoolVar(&c.json, "json", false, "print the result as one JSON object")
	return c
}

// result is what a bench run reports.
type result struct {
	Devices     int            `json:"devices"`
	Requests    int            `json:"requests"`
	Concurrency int            `json:"concurrency"`
	Seconds     float64        `json:"seconds"`
	PerSecond   float64        `json:"heartbeats_per_second"`
	OK          int            `json:"ok"`
	Faults      map[string]int `json:"faults"`
	Errors      int            `json:"errors"`
	FirstError  string         `json:"first_error,omitempty"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	BytesPerReq int            `json:"request_bytes"`
}

func bench(ctx context.Context, c *benchConfig, out io.Writer) error {
	if c.requests <= 0 || c.concurrency <= 0 || c.devices <= 0 || c.metrics < 0 {
		return fmt.Errorf("--requests, --concurrency and --devices must be positive")
	}
	fmt.Fprintf(out, "issuing %d device certificates…\n", c.devices)
	clients, err := c.fleetClients("bench")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "pre-signing %d heartbeats…\n", c.requests)
	envelopes, err := presign(clients, c.requests, c.metrics)
	if err != nil {
		return err
	}
	// Devices keep their connections; a run that opened them inside the
	// measurement would report TLS handshakes as heartbeat latency.
	fmt.Fprintf(out, "warming up: one heartbeat per device…\n")
	if err := warmUp(ctx, clients, c.concurrency); err != nil {
		return err
	}
	fmt.Fprintf(out, "sending with %d in flight…\n", c.concurrency)
	r := send(ctx, clients, envelopes, c.concurrency, c.rate)
	r.Devices, r.Requests, r.Concurrency, r.BytesPerReq = c.devices, c.requests, c.concurrency, len(envelopes[0])
	if c.json {
		return json.NewEncoder(out).Encode(r)
	}
	fmt.Fprintf(out, "sent %d heartbeats from %d devices in %.1fs: %.0f/s; ok %d, faults %v, errors %d\n",
		r.Requests, r.Devices, r.Seconds, r.PerSecond, r.OK, r.Faults, r.Errors)
	fmt.Fprintf(out, "latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; %d B per request\n",
		r.P50ms, r.P90ms, r.P99ms, r.MaxMs, r.BytesPerReq)
	if r.FirstError != "" {
		fmt.Fprintln(out, "first error:", r.FirstError)
	}
	return nil
}

// warmUp sends one heartbeat per device, concurrently, which opens its
// connection and registers it.
func warmUp(ctx context.Context, clients []*soapclient.Device, concurrency int) error {
	sem := make(chan struct{}, concurrency)
	errs := make(chan error, len(clients))
	var wg sync.WaitGroup
	for _, d := range clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := d.Heartbeat(ctx, sampleHeartbeat(rand.New(rand.NewPCG(1, 2)), 1)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}

// presign signs every heartbeat up front, so the run measures the server
// and not the generator's signing.
func presign(clients []*soapclient.Device, n, metrics int) ([][]byte, error) {
	envs := make([][]byte, n)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := w; i < n; i += workers {
				env, err := clients[i%len(clients)].Sign("Heartbeat", sampleHeartbeat(rng, metrics))
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				envs[i] = env
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nil, err
	}
	return envs, nil
}

var metricNames = []string{"cpu", "mem", "disk", "temp", "uptime", "scans", "errors", "queue"}

func sampleHeartbeat(rng *rand.Rand, metrics int) *soapclient.Heartbeat {
	state := soapclient.HealthStateOk
	hb := &soapclient.Heartbeat{State: &state}
	for i := range metrics {
		name := metricNames[i%len(metricNames)]
		if i >= len(metricNames) {
			name = fmt.Sprintf("%s%d", name, i/len(metricNames))
		}
		hb.Metric = append(hb.Metric, &soapclient.Metric{Name: name, Value: float64(rng.IntN(10000)) / 10})
	}
	return hb
}

// send posts every envelope, device i%len(clients) sending envelope i over
// its own keep-alive connection, and measures each answer.
func send(ctx context.Context, clients []*soapclient.Device, envs [][]byte, concurrency int, rate float64) result {
	var next atomic.Int64
	var pace <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		pace = t.C
	}
	type tally struct {
		lat      []time.Duration
		ok, errs int
		faults   map[string]int
		firstErr string
	}
	tallies := make([]tally, concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			t := &tallies[w]
			t.faults = map[string]int{}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(envs) || ctx.Err() != nil {
					return
				}
				if pace != nil {
					<-pace
				}
				begin := time.Now()
				resp, err := clients[i%len(clients)].SendSigned(ctx, "Heartbeat", envs[i])
				t.lat = append(t.lat, time.Since(begin))
				switch {
				case err != nil:
					t.errs++
					if t.firstErr == "" {
						t.firstErr = err.Error()
					}
				case resp.Fault != nil:
					t.faults[resp.Fault.Code]++
				case resp.StatusCode == http.StatusOK:
					t.ok++
				default:
					t.errs++
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	r := result{Seconds: took.Seconds(), Faults: map[string]int{}}
	var all []time.Duration
	for _, t := range tallies {
		all = append(all, t.lat...)
		r.OK += t.ok
		r.Errors += t.errs
		for k, v := range t.faults {
			r.Faults[k] += v
		}
		if r.FirstError == "" {
			r.FirstError = t.firstErr
		}
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	r.PerSecond = float64(r.OK) / took.Seconds()
	r.P50ms, r.P90ms, r.P99ms, r.MaxMs = pct(.50), pct(.90), pct(.99), pct(1)
	return r
}

// common are the flags both modes share.
type common struct {
	server  string
	pkiDir  string
	devices int
	keyType string
}

func (c *common) flags(fs *flag.FlagSet, devices int) {
	fs.StringVar(&c.server, "server", "https://localhost:8443", "server base URL")
	fs.StringVar(&c.pkiDir, "pki", "var/pki", "dev PKI directory (needs ca.key to issue device certificates)")
	fs.IntVar(&c.devices, "devices", devices, "simulated devices, each with its own certificate")
	fs.StringVar(&c.keyType, "key-type", "ecdsa", "device key type: ecdsa or rsa")
}

// fleetClients issues the fleet and returns one DeviceService client per
// device, each with its own TLS identity and signer.
func (c *common) fleetClients(prefix string) ([]*soapclient.Device, error) {
	fleet, err := issueFleet(c.pkiDir, prefix, c.devices, pki.KeyType(c.keyType))
	if err != nil {
		return nil, err
	}
	pool, serverCerts, err := trust(c.pkiDir)
	if err != nil {
		return nil, err
	}
	clients := make([]*soapclient.Device, len(fleet))
	for i, m := range fleet {
		if clients[i], err = soapclient.NewDeviceFor(c.server, pool, serverCerts, m.Cert, m.Key, soapclient.Config{}); err != nil {
			return nil, err
		}
	}
	return clients, nil
}
