package e2e

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ankitamadan/patient-profile/internal/broker"
	"github.com/ankitamadan/patient-profile/internal/devenv"
	"github.com/ankitamadan/patient-profile/internal/devenv/devenvtest"
	"github.com/ankitamadan/patient-profile/internal/logging/logtest"
	"github.com/ankitamadan/patient-profile/internal/message"
)

// screenshots, when set, is the directory the browser test writes a PNG of each page to:
// `make screenshots` sets it to docs/console.
var screenshots = flag.String("screenshots", "", "directory to write the console's screenshots to")

// chromium is Debian's Chromium, which the browser tests drive; without it they are skipped.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Skip("Chromium is not installed: `apt-get install -y chromium` to run the console's browser tests " +
		"(.ci/run installs it)")
	return ""
}

// browser starts a headless Chromium for the test, with nothing that reaches out of the machine.
func browser(t *testing.T) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-gpu", true))...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// consoleStack is the whole system as `make run` runs it, on free ports: the stack, the consumer,
// the producer and the console.
type consoleStack struct {
	stack                   *devenv.Stack
	logs                    *logtest.Buffer
	consumer                *devenv.Process
	cport, pport, port      int
	consoleURL, producerURL string
}

func startConsoleStack(t *testing.T) *consoleStack {
	t.Helper()
	logs := logtest.New(t)
	s := startStack(t, logs)
	cs := &consoleStack{stack: s, logs: logs, cport: devenvtest.FreePort(t), pport: devenvtest.FreePort(t),
		port: devenvtest.FreePort(t)}
	cs.consumer = start(t, "consumer", s.ConsumerEnv(cs.cport), cs.cport, logs)
	start(t, "producer", s.ProducerEnv(cs.pport), cs.pport, logs)
	cs.producerURL = fmt.Sprintf("http://127.0.0.1:%d", cs.pport)
	start(t, "console", []string{
		"CONSOLE_PORT=" + strconv.Itoa(cs.port), "KAFKA_BROKERS=" + s.Brokers[0], "TOPIC_NAME=" + s.Topic,
		"DLQ_TOPIC=" + s.DLQTopic, "CONSUMER_GROUP=" + s.Group, "DDB_HOST=" + s.Dynalite.Endpoint(),
		"DDB_NAME=" + s.Table, "CONSOLE_PRODUCER_URL=" + cs.producerURL,
		"CONSOLE_CONSUMER_URL=" + fmt.Sprintf("http://127.0.0.1:%d", cs.cport), "CONSOLE_REFRESH=500ms",
	}, cs.port, logs)
	cs.consoleURL = fmt.Sprintf("http://127.0.0.1:%d", cs.port)
	return cs
}

// axeSource is axe-core, from devstack/node_modules (npm ci), injected into each page: never from
// a CDN.
func axeSource(t *testing.T) string {
	t.Helper()
	root, err := devenv.ModuleRoot()
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "devstack", "node_modules", "axe-core", "axe.min.js"))
	require.NoError(t, err, "axe-core is pinned in devstack/package.json: run `make deps`")
	return string(b)
}

// axeRun lists the serious and critical violations axe-core finds in the page.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
	.filter(v => v.impact === "serious" || v.impact === "critical")
	.map(v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join("; ")))`

// The console in a real browser, against the real binaries: every page opens and passes axe-core,
// the form's update travels to Messages, the timeline and the table, markup in a value stays text,
// a dead letter is replayed after its cause is fixed, and a write from another origin is refused.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browser(t)
	cs := startConsoleStack(t)
	axe := axeSource(t)
	var dialogs atomic.Int32
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
			go func() { _, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{}) }()
		}
	}))
	open := func(t *testing.T, path, name string) string {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(cs.consoleURL+path), chromedp.WaitVisible(chromedp.CSS("main"))))
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		require.NoError(t, err)
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](axe+";true"))
		require.NoError(t, err, "inject axe-core")
		violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		assert.Empty(t, violations, "axe-core on %s", path)
		images, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
		require.NoError(t, err)
		assert.Zero(t, images, "%s: markup in a value must be shown as text, never made an element", path)
		if *screenshots != "" && name != "" {
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(*screenshots, name+".png"), png, 0o644))
		}
		return text
	}
	const id, markup = "browser-1", `<img src=x onerror=alert(1)>`

	t.Run("the form sends a profile through the producer", func(t *testing.T) {
		open(t, "/try", "")
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.ID("PatientId"), id),
			chromedp.SetValue(chromedp.ID("FirstName"), markup),
			chromedp.SetValue(chromedp.ID("LastName"), "Doe"),
			chromedp.SetValue(chromedp.ID("Sex"), "female"),
			chromedp.Click(chromedp.CSS(`form.stack button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.ID("h-answer")),
		))
		answer, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("h-answer")))
		require.NoError(t, err)
		assert.Contains(t, answer, "201")
		require.Eventually(t, func() bool {
			_, ok, err := cs.stack.Store.Get(context.Background(), id)
			return err == nil && ok
		}, 20*time.Second, 50*time.Millisecond, "the profile never reached the table")
		if *screenshots != "" {
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(*screenshots, "try.png"), png, 0o644))
		}
	})

	t.Run("the event in Messages, its outcome in the timeline, the row in Table", func(t *testing.T) {
		messages := open(t, "/find?key="+id, "messages")
		// The producer's encoder escapes < and > in the value; the page shows the value as it is.
		assert.Contains(t, messages, `\u003cimg src=x onerror=alert(1)\u003e`)
		assert.Contains(t, messages, "murmur2 puts key")
		timeline := open(t, "/patients/"+id, "patient")
		assert.Contains(t, timeline, "Applied: this event is the row")
		assert.Contains(t, timeline, markup, "the row's FirstName, markup shown as text")
		assert.Contains(t, timeline, "OrderKey")
		table := open(t, "/table?find="+id, "")
		assert.Contains(t, table, markup)
		open(t, "/table", "table")
		assert.Zero(t, dialogs.Load(), "a value's markup opened a dialog")
	})

	t.Run("markup in a raw value, a value that is not UTF-8, and one over 64 KiB are shown as text", func(t *testing.T) {
		w := broker.NewWriter(cs.stack.Cluster(), cs.stack.Topic)
		defer w.Close(context.Background())
		huge := `{"PatientId":"raw","FirstName":"` + strings.Repeat("x", 70<<10) + `"}`
		require.NoError(t, w.Write(context.Background(),
			message.Message{Key: []byte("raw"), Value: []byte(`{"PatientId":"raw","FirstName":"` + markup + `"}`)},
			message.Message{Key: []byte("raw"), Value: []byte{0xff, 0xfe, '<', 'b', '>'}},
			message.Message{Key: []byte("raw"), Value: []byte(huge)}))
		shown := open(t, "/find?key=raw", "")
		for _, want := range []string{markup, "not UTF-8: shown as hex", "ff fe 3c 62 3e",
			groupDigits(len(huge)) + " bytes: the first 65,536 shown"} {
			assert.True(t, strings.Contains(shown, want), "the page lacks %q", want)
		}
		assert.Zero(t, dialogs.Load(), "a value's markup opened a dialog")
	})

	t.Run("every other page", func(t *testing.T) {
		overview := open(t, "/", "overview")
		assert.Contains(t, overview, "Group "+cs.stack.Group)
		assert.Contains(t, overview, "applied")
		// The live part is replaced by the stream within a poll or two.
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("live-state") !== null &&
			document.querySelector("#overview p.meta").textContent.includes("Polled")`))
		require.NoError(t, err)
		open(t, "/topics/"+cs.stack.Topic, "")
		open(t, "/topics/"+cs.stack.Topic+"/partitions/0?offset=999999", "")
		open(t, "/patients", "")
		open(t, "/deadletters", "")
	})

	t.Run("a dead letter replayed after its cause is fixed", func(t *testing.T) {
		// An event an hour ahead of the consumer's clock is parked (reason future) ...
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
		w := broker.NewWriter(cs.stack.Cluster(), cs.stack.Topic)
		defer w.Close(context.Background())
		require.NoError(t, w.Write(context.Background(), message.Message{Key: []byte("ahead"),
			Value: []byte(`{"EventId":"e-ahead","PatientId":"ahead","FirstName":"Ahead","UpdatedAt":"` + future + `"}`)}))
		require.Eventually(t, func() bool {
			msgs, err := broker.ReadAll(context.Background(), cs.stack.Cluster(), cs.stack.DLQTopic)
			return err == nil && slices.ContainsFunc(msgs, func(m message.Message) bool { return string(m.Key) == "ahead" })
		}, 20*time.Second, 100*time.Millisecond, "the event was not dead-lettered")
		// ... until the consumer is given a wider MAX_CLOCK_SKEW: the cause, fixed.
		require.NoError(t, cs.consumer.Stop(devenv.StopGrace))
		start(t, "consumer", cs.stack.ConsumerEnv(cs.cport, "MAX_CLOCK_SKEW=2h"), cs.cport, cs.logs)

		list := open(t, "/deadletters", "deadletters")
		assert.Contains(t, list, "ahead of the consumer's clock")
		assert.Contains(t, list, "decode event", "the raw values above were dead-lettered too")
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
			`document.querySelector('a[href="/patients/ahead"]').closest("tr").querySelector("input").click(); true`))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS("button.danger")),
		))
		dry, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		require.NoError(t, err)
		assert.Contains(t, dry, "would-replay")
		assert.Contains(t, dry, "Nothing was published")
		_, ok, err := cs.stack.Store.Get(context.Background(), "ahead")
		require.NoError(t, err)
		require.False(t, ok, "a dry run publishes nothing")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("button.danger")),
			chromedp.WaitNotPresent(chromedp.CSS("button.danger"))))
		done, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		require.NoError(t, err)
		assert.Contains(t, done, "replayed ")
		require.Eventually(t, func() bool {
			e, ok, err := cs.stack.Store.Get(context.Background(), "ahead")
			return err == nil && ok && e.EventID == "e-ahead"
		}, 30*time.Second, 100*time.Millisecond, "the replayed event never reached the table")
		timeline := open(t, "/patients/ahead", "")
		assert.Contains(t, timeline, "Applied: this event is the row")
		assert.Contains(t, timeline, "Dead-lettered")
	})

	t.Run("a write from another origin without the form's token is refused", func(t *testing.T) {
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><html lang="en"><title>elsewhere</title><form method="post" action="%s/try">`+
				`<input name="method" value="POST"><input name="PatientId" value="evil"><button id="go">go</button>`+
				`</form></html>`, cs.consoleURL)
		}))
		defer evil.Close()
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(evil.URL), chromedp.Click(chromedp.ID("go")),
			chromedp.WaitVisible(chromedp.CSS("main"))))
		refused, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		require.NoError(t, err)
		assert.Contains(t, refused, "must come from the console's own pages")

		// Without a browser's Sec-Fetch-Site, the Origin and the missing token refuse it too.
		for _, h := range []map[string]string{{"Origin": "http://elsewhere.example"}, {}} {
			req, err := http.NewRequest(http.MethodPost, cs.consoleURL+"/try",
				strings.NewReader(url.Values{"method": {"POST"}, "PatientId": {"evil"}}.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "headers %v", h)
		}
		_, ok, err := cs.stack.Store.Get(context.Background(), "evil")
		require.NoError(t, err)
		assert.False(t, ok, "nothing of the refused writes was published")
	})
	assert.Zero(t, dialogs.Load(), "no dialog may open")
}

// groupDigits writes n as the console does: 71,714.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
