package bench

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// DelayProxy forwards HTTP requests to a backend after a fixed delay, so that dynalite on
// loopback answers like DynamoDB seen from inside its region. Every store call of every client
// under test goes through the same proxy, so the proxy's own cost is in the baseline too.
type DelayProxy struct {
	srv *http.Server
	ln  net.Listener
}

// StartDelayProxy listens on a free loopback port.
func StartDelayProxy(backend string, delay time.Duration) (*DelayProxy, error) {
	u, err := url.Parse(backend)
	if err != nil {
		return nil, err
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	delayed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		rp.ServeHTTP(w, r)
	})
	p := &DelayProxy{ln: ln, srv: &http.Server{Handler: delayed, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Endpoint is the proxy's URL.
func (p *DelayProxy) Endpoint() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy.
func (p *DelayProxy) Close() error { return p.srv.Close() }
