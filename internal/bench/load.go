package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The load generator speaks HTTP/1.1 over kept-alive connections by hand: on a 2-core machine a
// net/http client costs the server under test a good share of the CPU, and it would cost each
// server differently depending on its speed. This costs a write and a read per request.

// loadResult is what a run of POSTs measured.
type loadResult struct {
	Rate     float64 // answered requests per second
	P50, P99 time.Duration
	Errors   int64
}

// written is a 201 and when it arrived, for the end-to-end measure.
type written struct {
	patient, eventID string
	at               time.Time
}

// loadConn is one kept-alive connection to the server under test.
type loadConn struct {
	host string
	path string
	// auth is the Authorization header line, from the URL's password, or empty.
	auth string
	// keyed sends each request's patient id as its Idempotency-Key: a new key every time.
	keyed bool
	conn  net.Conn
	r     *bufio.Reader
	buf   []byte
}

func dialLoad(ctx context.Context, rawURL string) (*loadConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	c := &loadConn{host: u.Host, path: u.Path, conn: conn, r: bufio.NewReaderSize(conn, 4096)}
	if token, ok := u.User.Password(); ok {
		c.auth = "Authorization: Bearer " + token + "\r\n"
	}
	return c, nil
}

var eventIDField = []byte(`"EventId":"`)

// post sends one profile for patient and returns the 201's EventId.
func (c *loadConn) post(patient string) (string, error) {
	body := `{"PatientId":"` + patient + `","FirstName":"John","LastName":"Doe","IsPregnant":"False","Sex":"Female"}`
	c.buf = append(c.buf[:0], "POST "+c.path+" HTTP/1.1\r\nHost: "+c.host+"\r\n"+c.auth...)
	if c.keyed {
		c.buf = append(c.buf, "Idempotency-Key: "+patient+"\r\n"...)
	}
	c.buf = append(c.buf, "Content-Type: application/json\r\nContent-Length: "...)
	c.buf = strconv.AppendInt(c.buf, int64(len(body)), 10)
	c.buf = append(c.buf, "\r\n\r\n"...)
	c.buf = append(c.buf, body...)
	if _, err := c.conn.Write(c.buf); err != nil {
		return "", err
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	created := bytes.HasPrefix(status, []byte("HTTP/1.1 201"))
	code := string(bytes.TrimSpace(status))
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return "", err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 {
		return "", errors.New("no Content-Length in the answer")
	}
	resp := make([]byte, length)
	if _, err := io.ReadFull(c.r, resp); err != nil {
		return "", err
	}
	if !created {
		return "", fmt.Errorf("got %s", code)
	}
	_, id, _ := bytes.Cut(resp, eventIDField)
	id, _, _ = bytes.Cut(id, []byte(`"`))
	return string(id), nil
}

func (c *loadConn) close() { _ = c.conn.Close() }

// closedLoop has conns connections POST back to back for d, and returns the rate and latencies.
// With keyed, every request has an Idempotency-Key of its own.
func closedLoop(ctx context.Context, target, prefix string, conns int, d time.Duration, keyed bool) (loadResult,
	error) {
	var wg sync.WaitGroup
	var errs atomic.Int64
	lat := make([][]time.Duration, conns)
	clients := make([]*loadConn, 0, conns)
	defer func() {
		for _, c := range clients {
			c.close()
		}
	}()
	for range conns {
		c, err := dialLoad(ctx, target)
		if err != nil {
			return loadResult{}, err
		}
		c.keyed = keyed
		clients = append(clients, c)
	}
	start := time.Now()
	deadline := start.Add(d)
	for w, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				t := time.Now()
				if _, err := c.post(prefix + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)); err != nil {
					errs.Add(1)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	r := summarize(all)
	r.Rate = float64(len(all)) / elapsed.Seconds()
	r.Errors = errs.Load()
	return r, nil
}

// openLoop sends POSTs at rate per second for d over conns connections, whatever the answers
// do, and measures each latency from when the request was due: a stall counts against the
// server instead of slowing the load down (no coordinated omission). Each request is a new
// patient. created, if not nil, is called with every 201, from several goroutines at once.
func openLoop(ctx context.Context, target, prefix string, rate float64, d time.Duration, conns int,
	created func(written)) (loadResult, error) {
	n := int(d.Seconds() * rate)
	due := make(chan time.Time, n)
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var wg sync.WaitGroup
	var seq atomic.Int64
	for range conns {
		c, err := dialLoad(ctx, target)
		if err != nil {
			return loadResult{}, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			for at := range due {
				patient := prefix + "-" + strconv.FormatInt(seq.Add(1), 10)
				id, err := c.post(patient)
				now := time.Now()
				if err != nil {
					errs.Add(1)
					return
				}
				mu.Lock()
				lat = append(lat, now.Sub(at))
				mu.Unlock()
				if created != nil {
					created(written{patient: patient, eventID: id, at: now})
				}
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		due <- at
	}
	close(due)
	wg.Wait()
	r := summarize(lat)
	r.Rate = float64(len(lat)) / time.Since(start).Seconds()
	r.Errors = errs.Load()
	return r, nil
}

func summarize(lat []time.Duration) loadResult {
	var r loadResult
	r.P50, r.P99 = percentile(lat, 0.50), percentile(lat, 0.99)
	return r
}

func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}
