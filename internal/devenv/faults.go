package devenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Faults puts the network between a service and what it talks to under the stack's control:
// each Link is a TCP proxy (Toxiproxy, in-process) whose traffic can be delayed, throttled,
// sliced, cut or swallowed, then healed. A service reaches the broker or the store through a
// Link by being given the Link's address instead of theirs.
type Faults struct {
	server *toxiproxy.ApiServer

	mu    sync.Mutex
	links []*Link
}

// NewFaults starts no listener of its own: Links listen as they are made.
func NewFaults() *Faults {
	// Toxiproxy logs through zerolog's global logger too (its bandwidth toxic does), to stderr.
	zerolog.SetGlobalLevel(zerolog.Disabled)
	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	return &Faults{server: toxiproxy.NewServer(metrics, zerolog.Nop())}
}

// Link is one proxied TCP path, client to upstream.
type Link struct {
	Name  string
	proxy *toxiproxy.Proxy
}

// Link starts a proxy on a free loopback port that forwards to upstream (host:port).
func (f *Faults) Link(name, upstream string) (*Link, error) {
	p := toxiproxy.NewProxy(f.server, name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("start link %s to %s: %w", name, upstream, err)
	}
	l := &Link{Name: name, proxy: p}
	f.mu.Lock()
	f.links = append(f.links, l)
	f.mu.Unlock()
	return l, nil
}

// Close stops every Link, closing their connections.
func (f *Faults) Close() {
	f.mu.Lock()
	links := f.links
	f.links = nil
	f.mu.Unlock()
	for _, l := range links {
		l.proxy.Stop()
	}
}

// Addr is where clients connect to go through the Link.
func (l *Link) Addr() string { return l.proxy.Listen }

// Direction says which way a Toxic acts: on what the client sends, or on what it receives.
type Direction string

// The two directions of a link.
const (
	Upstream   Direction = "upstream"
	Downstream Direction = "downstream"
)

// Toxic is one fault, as Toxiproxy names its kinds (latency, bandwidth, slicer, reset_peer,
// timeout) and their attributes.
type Toxic struct {
	Type       string
	Attributes map[string]int64
}

// Latency delays data by ms, give or take jitter ms.
func Latency(ms, jitter int64) Toxic {
	return Toxic{Type: "latency", Attributes: map[string]int64{"latency": ms, "jitter": jitter}}
}

// Bandwidth limits data to kbps kilobytes a second.
func Bandwidth(kbps int64) Toxic {
	return Toxic{Type: "bandwidth", Attributes: map[string]int64{"rate": kbps}}
}

// Slicer delivers data in pieces of about size bytes, delayMicros apart.
func Slicer(size, variation, delayMicros int64) Toxic {
	return Toxic{Type: "slicer", Attributes: map[string]int64{
		"average_size": size, "size_variation": variation, "delay": delayMicros,
	}}
}

// ResetPeer cuts each connection with a TCP RST as soon as data flows (after ms).
func ResetPeer(ms int64) Toxic {
	return Toxic{Type: "reset_peer", Attributes: map[string]int64{"timeout": ms}}
}

// BlackHole swallows all data and keeps the connection open: the half-open connection a client
// can only notice through its own deadlines.
func BlackHole() Toxic {
	return Toxic{Type: "timeout", Attributes: map[string]int64{"timeout": 0}}
}

// HangUp swallows all data and closes each connection after ms: what a client reads then is
// io.EOF, as from a broker or a load balancer that drops idle or failing connections.
func HangUp(ms int64) Toxic {
	return Toxic{Type: "timeout", Attributes: map[string]int64{"timeout": ms}}
}

// Add puts t on the link in the given directions, under a name made of its type and direction.
// One toxic of a type per direction: adding it again replaces it.
func (l *Link) Add(t Toxic, directions ...Direction) error {
	for _, d := range directions {
		name := t.Type + "_" + string(d)
		_ = l.proxy.Toxics.RemoveToxic(context.Background(), name)
		b, err := json.Marshal(map[string]any{
			"name": name, "type": t.Type, "stream": d, "toxicity": 1.0, "attributes": t.Attributes,
		})
		if err != nil {
			return fmt.Errorf("toxic %s: %w", name, err)
		}
		if _, err := l.proxy.Toxics.AddToxicJson(bytes.NewReader(b)); err != nil {
			return fmt.Errorf("link %s: add toxic %s: %w", l.Name, name, err)
		}
	}
	return nil
}

// Heal removes every toxic: data flows again, on new connections and on those that survived.
func (l *Link) Heal() {
	l.proxy.Toxics.ResetToxics(context.Background())
}

// Both is both directions.
var Both = []Direction{Upstream, Downstream}
